import { describe, expect, it } from 'vitest';
import { bytesEqual, patternBytes } from '@grapevine/testkit';
import fc from 'fast-check';
import { FrameDecoder, MAX_BLOCK_BYTES, MIN_BLOCK_BYTES, encodeFrameHeader } from '@grapevine/transport-tcp';

function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.byteLength);
  out.set(encodeFrameHeader(body.byteLength));
  out.set(body, 4);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

describe('FrameDecoder', () => {
  const bodies = [patternBytes(1, 1), patternBytes(300, 2), patternBytes(5, 3)];
  const stream = concat(bodies.map(frame));

  it('decodes several frames from one chunk', () => {
    const frames: Uint8Array[] = [];
    expect(new FrameDecoder(1024).push(stream, (f) => frames.push(f))).toBe(true);
    expect(frames.map((f, i) => bytesEqual(f, bodies[i] ?? new Uint8Array()))).toEqual([true, true, true]);
  });

  it('decodes frames fed one byte at a time, and says when it is mid-frame', () => {
    const decoder = new FrameDecoder(1024);
    const frames: Uint8Array[] = [];
    const midFrame: boolean[] = [];
    for (let i = 0; i < stream.byteLength; i++) {
      expect(decoder.push(stream.subarray(i, i + 1), (f) => frames.push(f))).toBe(true);
      midFrame.push(decoder.midFrame);
    }
    expect(frames).toHaveLength(3);
    expect(frames.every((f, i) => bytesEqual(f, bodies[i] ?? new Uint8Array()))).toBe(true);
    expect(midFrame[0]).toBe(true);
    expect(midFrame.at(-1)).toBe(false);
  });

  it('delivers frames that do not alias the input chunk', () => {
    const chunk = frame(patternBytes(8, 4));
    let got: Uint8Array | undefined;
    new FrameDecoder(1024).push(chunk, (f) => (got = f));
    chunk.fill(0);
    expect(got !== undefined && bytesEqual(got, patternBytes(8, 4))).toBe(true);
  });

  it('rejects a zero length prefix and one over the limit', () => {
    expect(new FrameDecoder(1024).push(encodeFrameHeader(0), () => undefined)).toBe(false);
    expect(new FrameDecoder(1024).push(encodeFrameHeader(1025), () => undefined)).toBe(false);
    expect(new FrameDecoder(1024).push(encodeFrameHeader(1024), () => undefined)).toBe(true);
  });

  it('delivers the frames before a bad prefix in the same chunk', () => {
    const frames: Uint8Array[] = [];
    const ok = new FrameDecoder(1024).push(concat([frame(patternBytes(4, 5)), encodeFrameHeader(0)]), (f) => frames.push(f));
    expect(ok).toBe(false);
    expect(frames).toHaveLength(1);
  });
});

describe('FrameDecoder memory', () => {
  it('holds a partial frame in received bytes plus one block, however it is segmented', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 60 }), (length, cuts) => {
        const body = patternBytes(length, length & 0xff);
        const stream = frame(body);
        const decoder = new FrameDecoder(1024 * 1024);
        const frames: Uint8Array[] = [];
        let at = 0;
        for (let i = 0; at < stream.byteLength; i++) {
          const n = Math.min(cuts[i % cuts.length] ?? 1, stream.byteLength - at);
          decoder.push(stream.subarray(at, at + n), (f) => frames.push(f));
          at += n;
          if (decoder.midFrame) {
            const received = decoder.receivedBytes;
            expect(received).toBe(at);
            expect(decoder.bufferedBytes).toBeLessThanOrEqual(received + Math.min(received, MAX_BLOCK_BYTES) + MIN_BLOCK_BYTES);
          }
        }
        expect(frames).toHaveLength(1);
        expect(bytesEqual(frames[0] ?? new Uint8Array(), body)).toBe(true);
        expect(decoder.bufferedChunks).toBe(0);
      }),
      { numRuns: 30 },
    );
  });

  it('keeps a handful of blocks, not one buffer per segment, for a frame fed one byte at a time', () => {
    const decoder = new FrameDecoder(8 * 1024 * 1024);
    decoder.push(encodeFrameHeader(8 * 1024 * 1024), () => undefined);
    const one = Uint8Array.of(1);
    for (let i = 0; i < 100_000; i++) decoder.push(one, () => undefined);
    // Blocks of 4, 4, 8, 16, 32 and 64 KiB (128 KiB): 100,000 bytes in 6 blocks.
    expect(decoder.bufferedChunks).toBe(6);
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(4 + 100_000 + MAX_BLOCK_BYTES);
  });
});
