import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GrapevineError } from '@grapevine/core';
import { compressorConformance } from '@grapevine/testkit';
import { DEFAULT_COMPRESS_THRESHOLD, SNAPPY_MAX_LENGTH, readSnappyLength, snappyCompressor } from '@grapevine/compress-snappy';

compressorConformance('snappy', snappyCompressor);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GrapevineError);
    return (err as GrapevineError).code;
  }
  return 'no error';
}

/** The snappy length preamble: little-endian base-128 varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

const u8 = (...parts: Array<number | number[]>): Uint8Array => Uint8Array.from(parts.flat());

describe('snappyCompressor', () => {
  it('is compressor 1, "snappy"; the threshold is 256 bytes', () => {
    expect(snappyCompressor.id).toBe(1);
    expect(snappyCompressor.name).toBe('snappy');
    expect(DEFAULT_COMPRESS_THRESHOLD).toBe(256);
  });

  it('writes the raw snappy block format: preamble, then elements', () => {
    expect(Array.from(snappyCompressor.compress(new Uint8Array(0)))).toEqual([0]);
    expect(Array.from(snappyCompressor.compress(u8(0x61, 0x62, 0x63)))).toEqual([3, 0x08, 0x61, 0x62, 0x63]);
    // Decodes hand-written streams: literal "ab", then a 1-byte-offset copy of 4 from offset 2.
    expect(Array.from(snappyCompressor.decompress(u8(6, 0x04, 0x61, 0x62, 0x01, 0x02), 6))).toEqual([0x61, 0x62, 0x61, 0x62, 0x61, 0x62]);
    // 2-byte and 4-byte offset copies.
    expect(Array.from(snappyCompressor.decompress(u8(4, 0x00, 0x7a, 0x0a, 0x01, 0x00), 4))).toEqual([0x7a, 0x7a, 0x7a, 0x7a]);
    expect(Array.from(snappyCompressor.decompress(u8(4, 0x00, 0x7a, 0x0b, 0x01, 0x00, 0x00, 0x00), 4))).toEqual([0x7a, 0x7a, 0x7a, 0x7a]);
    // A literal with a 1-byte length (61 bytes).
    const lit = Array.from({ length: 61 }, (_, i) => i);
    expect(Array.from(snappyCompressor.decompress(u8(61, 0xf0, 60, lit), 61))).toEqual(lit);
  });

  it('returns plain Uint8Arrays for Buffer input too', () => {
    const data = Buffer.from('gossip '.repeat(100));
    const c = snappyCompressor.compress(data);
    expect(Buffer.isBuffer(c)).toBe(false);
    const d = snappyCompressor.decompress(Buffer.from(c), data.length);
    expect(Buffer.isBuffer(d)).toBe(false);
    expect(Buffer.from(d).equals(data)).toBe(true);
  });

  it('refuses a bomb whose preamble claims 2^31 bytes before allocating anything', () => {
    const before = process.memoryUsage().arrayBuffers;
    for (const claim of [2 ** 31, 2 ** 32 - 1, 2 ** 31 - 1, 1e9]) {
      const bomb = u8(varint(claim), 0x00, 0x00); // a 1-byte literal: far too short for the claim
      expect(readSnappyLength(bomb)).toEqual([claim, varint(claim).length]);
      expect(codeOf(() => snappyCompressor.decompress(bomb, 1 << 20))).toBe('ERR_TOO_LARGE');
      // Whatever maxLength says, a claim past what snappyjs can represent is refused.
      if (claim > SNAPPY_MAX_LENGTH) expect(codeOf(() => snappyCompressor.decompress(bomb, Number.MAX_SAFE_INTEGER))).toBe('ERR_TOO_LARGE');
    }
    // A claim within a generous maxLength whose elements do not back it is refused by validation,
    // also before allocating.
    expect(codeOf(() => snappyCompressor.decompress(u8(varint(2 ** 31 - 1), 0x00, 0x00), 2 ** 31 - 1))).toBe('ERR_DECODE');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20);
  });

  it('maxLength: exactly the size is accepted, one below is refused, before decoding', () => {
    const data = new Uint8Array(10_000).fill(7);
    const c = snappyCompressor.compress(data);
    expect(snappyCompressor.decompress(c, 10_000).length).toBe(10_000);
    expect(codeOf(() => snappyCompressor.decompress(c, 9_999))).toBe('ERR_TOO_LARGE');
    expect(snappyCompressor.decompress(u8(0), 0).length).toBe(0);
    expect(codeOf(() => snappyCompressor.decompress(u8(1, 0x00, 0x41), 0))).toBe('ERR_TOO_LARGE');
  });

  it('refuses malformed streams with ERR_DECODE, including those snappyjs alone would accept or hang on', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['empty input', u8()],
      ['truncated preamble', u8(0x80)],
      ['preamble longer than 5 bytes', u8(0x80, 0x80, 0x80, 0x80, 0x80, 0x00)],
      ['preamble past 32 bits', u8(0x80, 0x80, 0x80, 0x80, 0x10)],
      ['claims 10, no data', u8(10)],
      ['claims 2, carries 4', u8(2, 0x0c, 1, 2, 3, 4)],
      ['literal past the end', u8(5, 0x10, 1, 2)],
      ['truncated literal length', u8(61, 0xf0)],
      ['copy before any data', u8(4, 0x01, 0x01)],
      ['copy offset 0', u8(5, 0x00, 0x41, 0x01, 0x00)],
      ['copy offset past the output', u8(6, 0x00, 0x41, 0x01, 0x02)],
      ['truncated 1-byte-offset copy', u8(5, 0x00, 0x41, 0x01)],
      ['truncated 2-byte-offset copy', u8(5, 0x00, 0x41, 0x0a, 0x01)],
      ['truncated 4-byte-offset copy', u8(5, 0x00, 0x41, 0x0b, 0x01, 0x00, 0x00)],
      ['copy longer than the preamble', u8(3, 0x00, 0x41, 0x01, 0x01)],
      // snappyjs computes this literal's length as -5 and loops forever on these 6 bytes.
      ['literal length that wraps negative in 32 bits', u8(0x00, 0xfc, 0xfa, 0xff, 0xff, 0xff)],
      ['literal length of 2^32', u8(1, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x41)],
      ['4-byte copy offset with the top bit set', u8(5, 0x00, 0x41, 0x0f, 0x01, 0x00, 0x00, 0x80)],
    ];
    for (const [label, bytes] of cases) {
      expect([label, codeOf(() => snappyCompressor.decompress(bytes, 1 << 20))]).toEqual([label, 'ERR_DECODE']);
    }
  });

  it('refuses a bad maxLength as an option error', () => {
    const c = snappyCompressor.compress(u8(1, 2, 3));
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(codeOf(() => snappyCompressor.decompress(c, bad))).toBe('ERR_INVALID_OPTION');
    }
  });

  it('any stream that claims n bytes and decodes yields exactly n bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 300 }), (body, claim) => {
        const bytes = u8(varint(claim), Array.from(body));
        try {
          expect(snappyCompressor.decompress(bytes, 300).length).toBe(claim);
        } catch (err) {
          expect(err).toBeInstanceOf(GrapevineError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
