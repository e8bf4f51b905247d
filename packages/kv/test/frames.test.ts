/** Range-transfer frames: round trip in any chunking, and bounded rejection of malformed input. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeRecord, FrameError, FrameReader, type KvRecord } from '../src/index.js';

const record = fc.record({
  key: fc.string({ minLength: 1, maxLength: 40 }),
  value: fc.option(fc.uint8Array({ maxLength: 300 })),
  ts: fc.integer({ min: 0, max: 2 ** 50 }),
  node: fc.string({ minLength: 1, maxLength: 20 }),
  exp: fc.integer({ min: 0, max: 2 ** 45 }),
}) as fc.Arbitrary<KvRecord>;

describe('record frames', () => {
  it('round-trip whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }), (recs, cuts) => {
        const all = recs.map(encodeRecord);
        const bytes = new Uint8Array(all.reduce((s, b) => s + b.length, 0));
        let o = 0;
        for (const b of all) {
          bytes.set(b, o);
          o += b.length;
        }
        const r = new FrameReader(1024, 1024);
        const out: KvRecord[] = [];
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length]!;
          out.push(...r.push(bytes.subarray(at, at + n)));
          at += n;
        }
        expect(r.pending).toBe(0);
        expect(out).toEqual(recs.map((x) => ({ ...x, value: x.value === null ? null : new Uint8Array(x.value) })));
      }),
    );
  });

  it('rejects frames past the limits and garbage, without allocating what a peer claims', () => {
    const r = new FrameReader(16, 64);
    expect(() => r.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrow(FrameError);
    const big = encodeRecord({ key: 'k', value: new Uint8Array(100), ts: 1, node: 'a', exp: 0 });
    expect(() => new FrameReader(16, 64).push(big)).toThrow(FrameError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        try {
          new FrameReader(16, 64).push(junk);
        } catch (err) {
          expect(err instanceof FrameError || err instanceof TypeError).toBe(true);
        }
      }),
    );
  });
});
