/**
 * The origin log's bounds, and per-origin order, dedup and the per-key stale rule.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ACK, HAS_VALUE, KeyVersions, OriginLog, OriginStream } from '@grapevine/mesh';

describe('origin log', () => {
  const ev = (seq: number, at: number) => ({ key: `k${seq}`, version: seq, ack: false, hasValue: false, seq, at });

  it('keeps at most retentionEvents and retentionWindow; range starts at the oldest held', () => {
    const log = new OriginLog(5, 1000);
    for (let i = 1; i <= 8; i++) log.append(ev(i, i * 100));
    expect(log.size).toBe(5);
    expect(log.oldest).toBe(4);
    expect(log.head).toBe(8);
    expect(log.range(1, 100).map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(log.range(6, 2).map((e) => e.seq)).toEqual([6, 7]);
    expect(log.range(9, 2)).toEqual([]);
    log.expire(1650); // events sent before 650 are older than the window
    expect(log.oldest).toBe(7);
    log.expire(10_000);
    expect(log.size).toBe(0);
    expect(log.oldest).toBe(9);
    expect(() => log.append(ev(11, 0))).toThrow();
  });

  it('whole batches: range across batches, bounds that cut a batch, seqBefore by send time', () => {
    const log = new OriginLog(7, 1000);
    const cols = (from: number, n: number, valued = -1) => ({
      keys: Array.from({ length: n }, (_, i) => `k${from + i}`),
      versions: Array.from({ length: n }, (_, i) => 100 + from + i),
      flags: Array.from({ length: n }, (_, i) => (i === valued ? HAS_VALUE | ACK : 0)),
      values: Array.from({ length: n }, (_, i) => (i === valued ? `v${from + i}` : undefined)),
    });
    log.appendBatch(1, cols(1, 3), 3, 100);
    log.appendBatch(4, cols(4, 4, 1), 3, 200); // only the first 3 of 4 were sent
    expect(log.head).toBe(6);
    expect(log.range(2, 10).map((e) => [e.seq, e.key, e.version, e.at])).toEqual([[2, 'k2', 102, 100], [3, 'k3', 103, 100], [4, 'k4', 104, 200], [5, 'k5', 105, 200], [6, 'k6', 106, 200]]);
    expect(log.range(5, 1)).toEqual([{ key: 'k5', version: 105, ack: true, hasValue: true, value: 'v5', seq: 5, at: 200 }]);
    log.appendBatch(7, cols(7, 3), 3, 300); // 9 held > 7: the first two go
    expect([log.size, log.oldest, log.evicted]).toEqual([7, 3, 2]);
    expect(log.range(1, 2).map((e) => e.seq)).toEqual([3, 4]);
    expect(log.seqBefore(100)).toBe(0); // 1 and 2 (sent at 100) are gone
    expect(log.seqBefore(150)).toBe(3);
    expect(log.seqBefore(250)).toBe(6);
    expect(log.seqBefore(301)).toBe(9);
    log.expire(1150); // the batch of 100 is out of the window
    expect([log.size, log.oldest, log.lastAt]).toEqual([6, 4, 300]);
    expect(() => log.appendBatch(11, cols(11, 1), 1, 400)).toThrow();
  });

  it('seqBefore: the last event sent before t, or 0 when the log no longer reaches back to t', () => {
    const log = new OriginLog(100, 1_000_000);
    expect(log.seqBefore(50)).toBe(0);
    for (let i = 1; i <= 10; i++) log.append(ev(i, i * 100));
    expect(log.seqBefore(50)).toBe(0);
    expect(log.seqBefore(100)).toBe(0);
    expect(log.seqBefore(101)).toBe(1);
    expect(log.seqBefore(550)).toBe(5);
    expect(log.seqBefore(5000)).toBe(10);
    const small = new OriginLog(3, 1_000_000);
    for (let i = 1; i <= 10; i++) small.append(ev(i, i * 100));
    expect(small.seqBefore(850)).toBe(8);
    expect(small.seqBefore(750)).toBe(7); // 7 (sent at 700) was dropped, but sent before 750
    expect(small.seqBefore(650)).toBe(0); // 7 was sent after 650 and is gone: a gap
    expect(small.seqBefore(5000)).toBe(10);
  });
});

describe('per-origin order, dedup and staleness', () => {
  it('property: any arrival order with duplicates delivers each sequence number once, in order', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 60 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.integer({ min: 1, max: n }), { maxLength: 120 }))), ([n, extra]) => {
      const s = new OriginStream(1, 0, 1000);
      const arrivals = [...Array.from({ length: n }, (_, i) => i + 1), ...extra];
      // A deterministic shuffle from the extra values.
      arrivals.sort((x, y) => ((x * 7919 + extra.length) % 97) - ((y * 7919 + extra.length) % 97));
      const delivered: number[] = [];
      let dups = 0;
      for (const seq of arrivals) {
        const r = s.offer(seq, { key: `k${seq}`, version: seq, ack: false, hasValue: false });
        if (r === 'duplicate') dups++;
        for (const d of s.drain()) delivered.push(d.seq);
      }
      expect(delivered).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(dups).toBe(extra.length);
      expect(s.incomplete).toBe(false);
    }));
  });

  it('holds at most maxHeld out-of-order events; the next in order is always taken', () => {
    const s = new OriginStream(1, 0, 2);
    const e = { key: 'k', version: 1, ack: false, hasValue: false };
    expect(s.offer(3, e)).toBe('held');
    expect(s.offer(4, e)).toBe('held');
    expect(s.offer(5, e)).toBe('overflow');
    expect(s.offer(1, e)).toBe('next');
    expect(s.drain().map((d) => d.seq)).toEqual([1]);
    expect(s.incomplete).toBe(true);
    s.skipTo(2);
    expect(s.drain().map((d) => d.seq)).toEqual([3, 4]);
  });

  it('stale rule: an older version of a key than the one delivered is dropped; equal versions pass', () => {
    const v = new KeyVersions(2);
    expect(v.admit('a', 10)).toBe(true);
    expect(v.admit('a', 5)).toBe(false);
    expect(v.admit('a', 10)).toBe(true);
    expect(v.admit('a', 11)).toBe(true);
    v.admit('b', 1);
    v.admit('c', 1); // bound 2: 'a' forgotten
    expect(v.size).toBeLessThanOrEqual(2);
    expect(v.get('c')).toBe(1);
    expect(v.admit('a', 1)).toBe(true); // forgotten keys are delivered, never dropped
  });

  it('stale rule bound: never more than max keys, the keys of the ceil(max/2) most recent admissions always kept, and nothing dropped that was not older than a delivered version', () => {
    // Versions from a few rising streams (in-order admissions are recorded without a lookup) mixed with arbitrary ones.
    const version = fc.oneof(fc.nat(50), fc.constant('next' as const), fc.constant('same' as const));
    fc.assert(
      // Small lookup windows, so in-order events switch between looked up and deferred.
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 14 }), version), { maxLength: 120 }), (max, window, raw) => {
        let rising = 1000;
        const ops = raw.map(([k, v]) => [k, v === 'next' ? ++rising : v === 'same' ? rising : v] as const);
        const v = new KeyVersions(max, 0, window);
        const newest = new Map<string, number>();
        const recent: string[] = [];
        for (const [k, ver] of ops) {
          const key = `k${k}`;
          const admitted = v.admit(key, ver);
          const known = newest.get(key);
          // A dropped event always had an older version than one delivered (never a wrong drop).
          if (!admitted) expect(known !== undefined && ver < known).toBe(true);
          else {
            newest.set(key, Math.max(ver, known ?? ver));
            recent.push(key);
          }
          expect(v.size).toBeLessThanOrEqual(max);
          for (const r of recent.slice(-Math.ceil(max / 2))) expect(v.get(r)).toBeDefined();
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a rising stream of new keys is deferred, recurring keys are looked up again, and an older event is still dropped after either', () => {
    const v = new KeyVersions(1000, 0, 4);
    let t = 0;
    for (let i = 0; i < 8; i++) v.admit(`new${i}`, ++t); // 8 lookups, none found: deferring from here
    const before = v.size;
    v.admit('a', ++t);
    v.admit('b', ++t);
    v.admit('a', ++t); // deferred apart: two records of a
    expect(v.size).toBe(before + 3);
    expect(v.admit('a', t - 1)).toBe(false); // older than a's newest, recorded without a lookup
    expect(v.admit('b', t - 1)).toBe(true);
    expect(v.get('a')).toBe(t);
    // Keys that recur: one in 16 in-order events is looked up, and once they are found the bus looks up again.
    for (let i = 0; i < 2000; i++) v.admit(`r${i % 3}`, ++t);
    const size = v.size;
    for (let i = 0; i < 300; i++) v.admit(`r${i % 3}`, ++t);
    expect(v.size).toBe(size); // updated in place: no new records
    expect(v.admit('r1', t - 5)).toBe(false);
  });
});
