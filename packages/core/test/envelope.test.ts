import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  COMPOUND_OVERHEAD,
  COMPOUND_PART_OVERHEAD,
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_VERSION,
  FLAG_COMPOUND,
  FLAG_COMPRESSED,
  FLAG_ENCRYPTED,
  MAX_PART_BYTES,
  decodeEnvelope,
  encodeEnvelope,
  envelopeSize,
  type DecodedEnvelope,
  type EnvelopeDropReason,
} from '../src/wire/envelope.js';

const REASONS: readonly EnvelopeDropReason[] = [
  'truncated',
  'bad-version',
  'reserved-flags',
  'unsupported-flags',
  'wrong-codec',
  'bad-compound',
  'too-many-parts',
];
const CODEC = 2;

/** Deterministic filler: part i of an envelope, n bytes. */
function part(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Fast byte comparison: vitest's deep equality walks typed arrays element by element. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const partsArb = fc
  .tuple(fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 255, size: 'max' }), fc.nat())
  .map(([sizes, seed]) => sizes.map((n, i) => part(n, seed + i)));

/**
 * Checks the contract of a decodeEnvelope result for input `data`: a known drop reason, or an
 * envelope whose parts are non-empty views inside `data` that re-encode to exactly `data`.
 */
function checkResult(data: Uint8Array, result: DecodedEnvelope | EnvelopeDropReason, expectCodec: number, maxParts: number): void {
  if (typeof result === 'string') {
    expect(REASONS).toContain(result);
    return;
  }
  expect(result.codecId).toBe(expectCodec);
  expect(result.flags & 0xf8).toBe(0);
  expect(result.flags & (FLAG_COMPRESSED | FLAG_ENCRYPTED)).toBe(0);
  expect(result.parts.length).toBeGreaterThanOrEqual(1);
  expect(result.parts.length).toBeLessThanOrEqual(Math.max(1, maxParts));
  let total = 0;
  let inside = true;
  for (const p of result.parts) {
    inside &&=
      p.buffer === data.buffer &&
      p.length > 0 &&
      p.byteOffset >= data.byteOffset + ENVELOPE_HEADER_BYTES &&
      p.byteOffset + p.length <= data.byteOffset + data.length;
    total += p.length;
  }
  expect(inside, 'every part is a non-empty view inside the input').toBe(true);
  if (result.flags & FLAG_COMPOUND) {
    expect(total + ENVELOPE_HEADER_BYTES + COMPOUND_OVERHEAD + COMPOUND_PART_OVERHEAD * result.parts.length).toBe(data.length);
  } else {
    expect(result.parts).toHaveLength(1);
    expect(total + ENVELOPE_HEADER_BYTES).toBe(data.length);
  }
  // Canonical: what was accepted is what the encoder writes (a 1-part compound re-encodes as single).
  if (!(result.flags & FLAG_COMPOUND) || result.parts.length > 1) {
    expect(sameBytes(encodeEnvelope(result.codecId, result.parts, result.flags), data), 're-encodes to the input').toBe(true);
  }
}

function decodeChecked(data: Uint8Array, expectCodec = CODEC, maxParts = 255): DecodedEnvelope | EnvelopeDropReason {
  let result: DecodedEnvelope | EnvelopeDropReason | undefined;
  expect(() => {
    result = decodeEnvelope(data, expectCodec, maxParts);
  }).not.toThrow();
  checkResult(data, result!, expectCodec, maxParts);
  return result!;
}

const u8 = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('envelope v1', () => {
  it('round-trips single envelopes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.integer({ min: 1, max: 127 }), (body, codec) => {
        const env = encodeEnvelope(codec, [body]);
        expect(env.length).toBe(envelopeSize([body.length]));
        expect(Array.from(env.subarray(0, 3))).toEqual([ENVELOPE_VERSION, 0, codec]);
        const d = decodeChecked(env, codec);
        if (typeof d === 'string') throw new Error(d);
        expect(d.flags).toBe(0);
        expect(d.parts.length === 1 && sameBytes(d.parts[0]!, body)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips compound envelopes of 1..255 parts of 1..2000 bytes', () => {
    fc.assert(
      fc.property(partsArb, (parts) => {
        const env = encodeEnvelope(CODEC, parts);
        expect(env.length).toBe(envelopeSize(parts.map((p) => p.length)));
        const d = decodeChecked(env);
        if (typeof d === 'string') throw new Error(d);
        expect(d.flags).toBe(parts.length > 1 ? FLAG_COMPOUND : 0);
        expect(d.parts.length).toBe(parts.length);
        expect(parts.every((p, i) => sameBytes(p, d.parts[i]!))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('decodes from a view into a larger buffer, with parts inside the view', () => {
    fc.assert(
      fc.property(partsArb, fc.nat(16), fc.nat(16), (parts, before, after) => {
        const env = encodeEnvelope(CODEC, parts);
        const big = new Uint8Array(before + env.length + after).fill(0xee);
        big.set(env, before);
        const view = big.subarray(before, before + env.length);
        const d = decodeChecked(view);
        expect(typeof d).toBe('object');
      }),
      { numRuns: 30 },
    );
  });

  it('arbitrary bytes never throw and give a valid envelope or a drop reason', () => {
    const header = fc.tuple(fc.constantFrom(0, 1, 1, 1, 2, 255), fc.nat(255), fc.constantFrom(0, 1, 2, 2, 2, 200));
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 300 }), (h, rest, maxParts) => {
        const data = Uint8Array.from([...h, ...rest]);
        decodeChecked(data, CODEC, maxParts);
        decodeChecked(rest, CODEC, maxParts);
      }),
      { numRuns: 1500 },
    );
  });

  it('mutated valid envelopes (bit flips, byte sets, truncation, extension) never throw', () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
      fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
      fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 10 }) }),
    );
    const smallParts = fc
      .tuple(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 12 }), fc.nat())
      .map(([sizes, seed]) => sizes.map((n, i) => part(n, seed + i)));
    fc.assert(
      fc.property(smallParts, fc.array(edit, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 255 }), (parts, edits, maxParts) => {
        let data = Uint8Array.from(encodeEnvelope(CODEC, parts));
        for (const e of edits) {
          if (e.kind === 'extend') {
            const grown = new Uint8Array(data.length + e.bytes.length);
            grown.set(data);
            grown.set(e.bytes, data.length);
            data = grown;
          } else if (e.kind === 'truncate') {
            data = data.slice(0, e.keep % (data.length + 1));
          } else if (data.length > 0) {
            const at = e.at % data.length;
            data[at] = e.kind === 'flip' ? data[at]! ^ (1 << e.bit) : e.byte;
          }
        }
        decodeChecked(data, CODEC, maxParts);
      }),
      { numRuns: 2000 },
    );
  });

  it('every truncation and every extension of a compound is refused as bad-compound', () => {
    const env = encodeEnvelope(CODEC, [u8(1, 2, 3), u8(4), u8(5, 6)]);
    for (let n = ENVELOPE_HEADER_BYTES + 1; n < env.length; n++) expect(decodeEnvelope(env.subarray(0, n), CODEC, 255)).toBe('bad-compound');
    expect(decodeEnvelope(Uint8Array.from([...env, 0]), CODEC, 255)).toBe('bad-compound');
  });

  it('gives the right drop reason for each malformation', () => {
    const d = (data: Uint8Array, maxParts = 255, codec = CODEC) => decodeEnvelope(data, codec, maxParts);
    expect(d(u8())).toBe('truncated');
    expect(d(u8(1, 0, 2))).toBe('truncated'); // header but no body
    expect(d(u8(1, 0))).toBe('truncated');
    expect(d(u8(0, 0, 2, 0x90))).toBe('bad-version');
    expect(d(u8(2, 0, 2, 0x90))).toBe('bad-version');
    expect(d(u8(255, 0, 2, 0x90))).toBe('bad-version');
    for (const bit of [0x08, 0x10, 0x20, 0x40, 0x80]) expect(d(u8(1, bit, 2, 0x90))).toBe('reserved-flags');
    expect(d(u8(1, FLAG_COMPRESSED, 2, 0x90))).toBe('unsupported-flags');
    expect(d(u8(1, FLAG_ENCRYPTED, 2, 0x90))).toBe('unsupported-flags');
    expect(d(u8(1, 0, 1, 0x90))).toBe('wrong-codec');
    expect(d(u8(1, 0, 0, 0x90))).toBe('wrong-codec');
    expect(d(u8(1, FLAG_COMPOUND, 2, 0))).toBe('bad-compound'); // zero count
    expect(d(u8(1, FLAG_COMPOUND, 2, 0, 0, 1, 7))).toBe('bad-compound');
    expect(d(u8(1, FLAG_COMPOUND, 2, 3, 0, 1, 7, 0, 1, 8, 0, 1, 9), 2)).toBe('too-many-parts');
    expect(d(u8(1, FLAG_COMPOUND, 2, 2, 0, 1, 7, 0, 1, 8), 2)).toMatchObject({ parts: [u8(7), u8(8)] });
    expect(d(u8(1, FLAG_COMPOUND, 2, 1, 0, 1, 7), 0)).toBe('too-many-parts');
    expect(d(u8(1, FLAG_COMPOUND, 2, 2, 0, 1, 7))).toBe('bad-compound'); // second length missing
    expect(d(u8(1, FLAG_COMPOUND, 2, 2, 0, 1, 7, 0))).toBe('bad-compound'); // half a length
    expect(d(u8(1, FLAG_COMPOUND, 2, 1, 0, 2, 7))).toBe('bad-compound'); // length past the end
    expect(d(u8(1, FLAG_COMPOUND, 2, 1, 0xff, 0xff, 7))).toBe('bad-compound');
    expect(d(u8(1, FLAG_COMPOUND, 2, 2, 0, 0, 0, 1, 7))).toBe('bad-compound'); // zero-length part
    expect(d(u8(1, FLAG_COMPOUND, 2, 1, 0, 1, 7, 9))).toBe('bad-compound'); // trailing byte
    expect(d(u8(1, FLAG_COMPOUND, 2, 1))).toBe('bad-compound'); // count but no parts
    // precedence: version before flags before codec
    expect(d(u8(2, 0xff, 9, 0))).toBe('bad-version');
    expect(d(u8(1, 0xff, 9, 0))).toBe('reserved-flags');
    expect(d(u8(1, FLAG_ENCRYPTED | FLAG_COMPOUND, 9, 0))).toBe('unsupported-flags');
    expect(d(u8(1, FLAG_COMPOUND, 9, 0))).toBe('wrong-codec');
  });

  it('a one-part compound is accepted (other writers may send it)', () => {
    const res = decodeEnvelope(u8(1, FLAG_COMPOUND, 2, 1, 0, 2, 7, 8), CODEC, 255);
    expect(res).toEqual({ flags: FLAG_COMPOUND, codecId: 2, parts: [u8(7, 8)] });
  });

  it('encoder limits: no parts, over 255 parts, over 65535-byte compound parts, empty parts', () => {
    expect(() => encodeEnvelope(CODEC, [])).toThrow(RangeError);
    expect(() => encodeEnvelope(CODEC, new Array(256).fill(u8(1)))).toThrow(RangeError);
    expect(decodeEnvelope(encodeEnvelope(CODEC, new Array(255).fill(u8(1))), CODEC, 255)).toMatchObject({ flags: FLAG_COMPOUND });
    const max = new Uint8Array(MAX_PART_BYTES).fill(3);
    const env = encodeEnvelope(CODEC, [max, u8(1)]);
    const res = decodeEnvelope(env, CODEC, 255);
    expect(typeof res === 'object' && res.parts[0]!.length).toBe(MAX_PART_BYTES);
    expect(() => encodeEnvelope(CODEC, [new Uint8Array(MAX_PART_BYTES + 1), u8(1)])).toThrow(RangeError);
    // a single part is not length-prefixed, so it may exceed 65535
    expect(decodeEnvelope(encodeEnvelope(CODEC, [new Uint8Array(70_000).fill(1)]), CODEC, 255)).toMatchObject({ flags: 0 });
    // empty parts would be refused by every reader, so the writer refuses them
    expect(() => encodeEnvelope(CODEC, [new Uint8Array(0)])).toThrow(RangeError);
    expect(() => encodeEnvelope(CODEC, [u8(1), new Uint8Array(0)])).toThrow(RangeError);
  });

  it('keeps extra flags and never lets them mark a single envelope compound', () => {
    expect(Array.from(encodeEnvelope(CODEC, [u8(9)], FLAG_COMPRESSED))).toEqual([1, FLAG_COMPRESSED, CODEC, 9]);
    expect(Array.from(encodeEnvelope(CODEC, [u8(9)], FLAG_COMPOUND))).toEqual([1, 0, CODEC, 9]);
    expect(encodeEnvelope(CODEC, [u8(9), u8(8)], FLAG_ENCRYPTED)[1]).toBe(FLAG_COMPOUND | FLAG_ENCRYPTED);
  });
});
