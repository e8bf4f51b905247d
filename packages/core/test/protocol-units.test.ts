import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BroadcastQueue, minSuspicionTimeout, pushPullScale, retransmitLimit, suspicionTimeout, Awareness } from '@grapevine/core';

describe('formulas', () => {
  it('retransmit limit is mult * ceil(log10(N+1))', () => {
    expect(retransmitLimit(4, 10)).toBe(8);
    expect(retransmitLimit(4, 50)).toBe(8);
    expect(retransmitLimit(4, 100)).toBe(12);
    expect(retransmitLimit(4, 1)).toBe(4);
  });
  it('suspicion minimum is mult * max(1, log10 N) * interval', () => {
    expect(minSuspicionTimeout(4, 10, 1000)).toBe(4000);
    expect(minSuspicionTimeout(4, 50, 1000)).toBe(6795);
    expect(minSuspicionTimeout(4, 3, 1000)).toBe(4000);
  });
  it('suspicion timeout shrinks monotonically from max to min with confirmations', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 8 }), (min, mult, k) => {
      const max = min * mult;
      let prev = suspicionTimeout(min, max, k, 0);
      expect(prev).toBe(max);
      for (let c = 1; c <= k + 2; c++) {
        const t = suspicionTimeout(min, max, k, c);
        expect(t).toBeLessThanOrEqual(prev);
        expect(t).toBeGreaterThanOrEqual(min);
        prev = t;
      }
      expect(suspicionTimeout(min, max, k, k)).toBe(min);
    }));
  });
  it('push-pull interval scales past 32 nodes like memberlist', () => {
    expect(pushPullScale(30_000, 10)).toBe(30_000);
    expect(pushPullScale(30_000, 50)).toBe(60_000);
    expect(pushPullScale(30_000, 100)).toBe(90_000);
  });
  it('awareness stays within [0, max-1] and scales timeouts', () => {
    const a = new Awareness(8);
    a.applyDelta(-3);
    expect(a.health).toBe(0);
    a.applyDelta(20);
    expect(a.health).toBe(7);
    expect(a.scale(500)).toBe(4000);
  });
});

describe('broadcast queue', () => {
  const bytes = (n: number, v = 1) => new Uint8Array(n).fill(v);
  it('sends each entry at most `limit` times, least-sent and newest first', () => {
    const q = new BroadcastQueue(100);
    q.enqueue('a', bytes(10, 1));
    q.enqueue('b', bytes(10, 2));
    expect(q.take(1000, 2, 10, 2).map((p) => p[0])).toEqual([2, 1]);
    q.enqueue('c', bytes(10, 3));
    expect(q.take(12, 2, 10, 2).map((p) => p[0])).toEqual([3]);
    expect(q.take(1000, 2, 10, 2).map((p) => p[0])).toEqual([3, 2, 1]);
    expect(q.size).toBe(0);
  });
  it('a newer update about the same key replaces the older one', () => {
    const q = new BroadcastQueue(100);
    q.enqueue('a', bytes(5, 1));
    q.enqueue('a', bytes(5, 9));
    expect(q.take(1000, 2, 10, 4)).toEqual([bytes(5, 9)]);
  });
  it('respects the byte budget and part count, and is bounded', () => {
    const q = new BroadcastQueue(3);
    for (let i = 0; i < 10; i++) q.enqueue(`k${i}`, bytes(100, i));
    expect(q.size).toBe(3);
    expect(q.dropped).toBe(7);
    expect(q.take(250, 2, 10, 4).length).toBe(2);
    expect(q.take(10_000, 2, 1, 4).length).toBe(1);
  });
});
