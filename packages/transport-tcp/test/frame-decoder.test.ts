import { describe, expect, it } from 'vitest';
import { bytesEqual, patternBytes } from '@grapevine/testkit';
import { FrameDecoder, encodeFrameHeader } from '@grapevine/transport-tcp';

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
