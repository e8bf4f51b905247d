/**
 * Unit and property tests of the bus's parts: batching and pending-dedup, the origin log's bounds,
 * per-origin ordering and dedup, the per-key stale rule, the gap rule, and the wire checks.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { ACK, Batcher, HAS_VALUE, KeyVersions, type PendingBatch, OriginLog, OriginStream, MESH_DEFAULTS, resolveMeshOptions } from '@grapevine/mesh';
import type { Clock, TimerHandle } from '@grapevine/core';
import { Recovery, type RecoveryHost } from '../src/recovery.js';
import { msgpackCodec } from '@grapevine/codec-msgpack';
const pack = (v: unknown): Uint8Array => msgpackCodec.encode(v);
const unpack = (b: Uint8Array): unknown => msgpackCodec.decode(b);
import { parseBatch, parseFetch, parseFetchReply, parseHead, parseAck, batchToWire, batchToWireV1, isUnknownBatchFormat, type FetchReply, type FetchReq, type WireEvent } from '../src/wire.js';

/** Queue a bare or valued event the way the publisher does. */
const add = (b: Batcher, key: string, bytes = 10, version = 1, value?: unknown, owner?: object): boolean => b.add(key, version, value !== undefined, value, false, bytes, owner);
/** take()'s columns as one record per event. */
const rows = (p: PendingBatch) => p.keys.map((key, i) => ({ key, version: p.versions[i]!, value: p.values?.[i], bytes: p.bytes[i]! }));

describe('batcher', () => {
  it('pending-dedup: a waiting key is merged, keeping the newest value and its place', () => {
    const b = new Batcher({ size: 20, bytes: 1000 });
    expect(add(b, 'a', 10, 1, 'v1')).toBe(false);
    expect(add(b, 'b')).toBe(false);
    expect(add(b, 'a', 12, 5, 'v2')).toBe(true);
    expect(b.size).toBe(2);
    expect(b.bytes).toBe(22);
    const out = rows(b.take());
    expect(out.map((e) => [e.key, e.value, e.version])).toEqual([['a', 'v2', 5], ['b', undefined, 1]]);
    expect(b.size).toBe(0);
    expect(b.bytes).toBe(0);
  });

  it('an aborted publish is withdrawn only while it alone owns the entry', () => {
    const b = new Batcher({ size: 20, bytes: 1000 });
    const owner = {};
    add(b, 'a', 10, 1, undefined, owner);
    expect(b.withdraw('a', owner)).toBe(true);
    add(b, 'b', 10, 1, undefined, owner);
    add(b, 'b'); // someone else published b too
    expect(b.withdraw('b', owner)).toBe(false);
    expect(b.size).toBe(1);
  });

  it('property: batches never exceed the key count or byte budget, keep publish order, and lose nothing', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 50, max: 2000 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 50 })), { maxLength: 300 }),
      (size, bytes, ops) => {
        const b = new Batcher({ size, bytes });
        const batches: string[][] = [];
        const lastWritten = new Map<string, number>();
        const order: string[] = [];
        let t = 0;
        const flushAll = (): void => { while (b.size > 0) batches.push(rows(b.take()).map((e) => { expect(e.version).toBe(lastWritten.get(e.key)); return e.key; })); };
        for (const [k, sz] of ops) {
          const key = `k${k}`;
          t++;
          if (b.wouldOverflow(key, sz)) flushAll();
          if (!b.has(key)) order.push(key);
          lastWritten.set(key, t);
          add(b, key, sz, t);
          if (b.full()) {
            const taken = b.take();
            batches.push(taken.keys);
          }
        }
        flushAll();
        for (const batch of batches) {
          expect(batch.length).toBeLessThanOrEqual(size);
          expect(new Set(batch).size).toBe(batch.length); // pending-dedup within a batch
        }
        // Every key published reaches a batch, in the order it first waited.
        expect(batches.flat()).toEqual(order);
      },
    ), { numRuns: 200 });
  });

  it('property: with the byte check before add, a batch of two or more never exceeds the byte budget', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 300, max: 1400 }), (sizes, budget) => {
      const b = new Batcher({ size: 1000, bytes: budget });
      const out: number[][] = [];
      sizes.forEach((sz, i) => {
        if (b.wouldOverflow(`k${i}`, sz)) out.push(b.take().bytes);
        add(b, `k${i}`, sz);
        if (b.full()) out.push(b.take().bytes);
      });
      while (b.size > 0) out.push(b.take().bytes);
      for (const batch of out) if (batch.length > 1) expect(batch.reduce((s, x) => s + x, 0)).toBeLessThanOrEqual(budget);
      expect(out.flat().length).toBe(sizes.length);
    }));
  });
  it('property: columns match a record-per-key model through merges, values, acks, withdrawals, splits and put-backs', () => {
    type Rec = { key: string; version: number; hasValue: boolean; value: unknown; ack: boolean; bytes: number; owner: object | undefined };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), k: fc.integer({ min: 0, max: 12 }), bytes: fc.integer({ min: 1, max: 60 }), value: fc.option(fc.integer(), { nil: undefined }), ack: fc.boolean(), owned: fc.boolean() }),
      fc.record({ kind: fc.constant('withdraw' as const), k: fc.integer({ min: 0, max: 12 }) }),
      fc.record({ kind: fc.constant('take' as const), keep: fc.integer({ min: 0, max: 5 }) }),
    );
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 30, max: 300 }), fc.array(op, { maxLength: 120 }), (size, budget, ops) => {
      const b = new Batcher({ size, bytes: budget });
      let model: Rec[] = [];
      const owners = new Map<string, object>();
      let t = 0;
      for (const o of ops) {
        if (o.kind === 'add') {
          const key = `k${o.k}`;
          const owner = o.owned ? {} : undefined;
          const cur = model.find((r) => r.key === key);
          expect(b.add(key, ++t, o.value !== undefined, o.value, o.ack, o.bytes, owner)).toBe(cur !== undefined);
          if (cur) Object.assign(cur, { version: t, hasValue: o.value !== undefined, value: o.value, ack: cur.ack || o.ack, bytes: o.bytes, owner: undefined });
          else {
            model.push({ key, version: t, hasValue: o.value !== undefined, value: o.value, ack: o.ack, bytes: o.bytes, owner });
            if (owner) owners.set(key, owner);
          }
        } else if (o.kind === 'withdraw') {
          const key = `k${o.k}`;
          const owner = owners.get(key) ?? {};
          const cur = model.find((r) => r.key === key);
          const ok = cur !== undefined && cur.owner === owner;
          expect(b.withdraw(key, owner)).toBe(ok);
          if (ok) model = model.filter((r) => r !== cur);
        } else if (b.size > 0) {
          // The model's take: the oldest, at most `size` and `budget` (at least one).
          let n = 0;
          let sum = 0;
          while (n < model.length && n < size && (n === 0 || sum + model[n]!.bytes <= budget)) sum += model[n++]!.bytes;
          const got = b.take();
          expect(got.keys).toEqual(model.slice(0, n).map((r) => r.key));
          got.keys.forEach((_, i) => {
            const r = model[i]!;
            const f = got.flags?.[i] ?? 0;
            expect([got.versions[i], (f & HAS_VALUE) !== 0, (f & ACK) !== 0, got.bytes[i]]).toEqual([r.version, r.hasValue, r.ack, r.bytes]);
            if (r.hasValue) expect(got.values![i]).toBe(r.value);
          });
          // Send some, put the rest back in front (the sender's split).
          const sent = Math.min(n, Math.max(1, n - o.keep));
          if (sent < n) b.putBack(got, sent);
          model = [...model.slice(sent, n), ...model.slice(n)];
        }
        expect(b.size).toBe(model.length);
        expect(b.bytes).toBe(model.reduce((a, r) => a + r.bytes, 0));
      }
    }), { numRuns: 300 });
  });
});

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

/** A manual clock for the recovery state machine. */
class ManualClock implements Clock {
  t = 1_000_000;
  timers: { at: number; fn: () => void; off: boolean }[] = [];
  now(): number { return this.t; }
  setTimer(fn: () => void, ms: number): TimerHandle {
    const h = { at: this.t + ms, fn, off: false };
    this.timers.push(h);
    return { cancel: () => { h.off = true; } };
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.find((x) => !x.off && x.at <= end);
      if (!next) break;
      next.off = true;
      this.t = next.at;
      next.fn();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
    this.t = end;
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

describe('the gap rule', () => {
  function setup(log: OriginLog, initialEpoch = 7, options: Parameters<typeof resolveMeshOptions>[0] = {}) {
    const clock = new ManualClock();
    const origin = { epoch: initialEpoch };
    const delivered: number[] = [];
    const gaps: [number, number][] = [];
    const asked: FetchReq[] = [];
    const host: RecoveryHost = {
      clock,
      opts: resolveMeshOptions(options, clock),
      instance: 1,
      uptime: () => 0,
      fetch: async (_o, req): Promise<FetchReply> => {
        asked.push(req);
        const owed = req.fresh ? 1 : req.from;
        // Like FetchServer: a fresh request from a receiver that already hears batches gets no events.
        const events = req.fresh && req.from > 0 ? [] : log.range(owed, req.to > 0 ? Math.max(1, req.to - Math.max(owed, log.oldest) + 1) : 500);
        return { epoch: origin.epoch, head: log.head, oldest: log.oldest, owed: req.fresh ? owed : null, first: Math.max(owed, log.oldest), events };
      },
      isLive: () => true,
      deliver: (_o, _e, seq) => delivered.push(seq),
      deliverAt: (_o, _e, seq) => delivered.push(seq),
      gap: (_o, from, to) => gaps.push([from, to]),
      count: () => {},
    };
    return { clock, delivered, gaps, asked, origin, rec: new Recovery(host) };
  }
  const logged = (n: number, keep: number): OriginLog => {
    const log = new OriginLog(keep, 1e9);
    for (let i = 1; i <= n; i++) log.append({ key: `k${i}`, version: i, ack: false, hasValue: false, seq: i, at: i });
    return log;
  };
  const wire = (seq: number): WireEvent => ({ key: `k${seq}`, version: seq, ack: false, hasValue: false });

  it('holes that gossip fills within the recovery delay are never fetched, however busy the stream', async () => {
    const log = logged(1, 1000);
    const { clock, delivered, asked, rec } = setup(log);
    rec.receive('o', 7, 1, [wire(1)]);
    await clock.advance(10);
    // The first-contact fetch is answered; then the origin sends 2..40.
    for (let i = 2; i <= 40; i++) log.append({ key: `k${i}`, version: i, ack: false, hasValue: false, seq: i, at: i });
    // Every 200 ms (< recoveryDelay 250) the old hole fills and a new one opens: never complete.
    for (let k = 0; k < 8; k++) {
      const hole = 2 + 2 * k;
      if (k > 0) rec.receive('o', 7, hole - 2, [wire(hole - 2)]);
      rec.receive('o', 7, hole + 1, [wire(hole + 1)]);
      await clock.advance(200);
    }
    expect(asked.filter((r) => !r.fresh)).toEqual([]);
    // The last hole is left open: it is fetched after its own delay, and only it is asked for.
    // Its reply says the head is 40, so 18..40 are a new hole: fetched after their own delay.
    await clock.advance(300);
    expect(asked.filter((r) => !r.fresh).map((r) => [r.from, r.to])).toEqual([[16, 16], [18, 40]]);
    expect(delivered).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('events dropped from a full hold are fetched at once, not after the recovery delay', async () => {
    const log = logged(1, 1000);
    const { clock, delivered, asked, gaps, rec } = setup(log, 7, { maxHeldEvents: 3 });
    rec.receive('o', 7, 1, [wire(1)]);
    await clock.advance(10);
    for (let i = 2; i <= 10; i++) log.append({ key: `k${i}`, version: i, ack: false, hasValue: false, seq: i, at: i });
    // 2 is late; 3..5 are held, 6..10 find the hold full and are dropped (no copy will come again).
    rec.receive('o', 7, 3, [3, 4, 5, 6, 7, 8, 9, 10].map(wire));
    await clock.advance(1);
    expect(asked.filter((r) => !r.fresh).map((r) => [r.from, r.to])).toEqual([[2, 2], [6, 10]]);
    expect(delivered).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(gaps).toEqual([]);
  });

  it('batches before the first-contact answer wait (bounded by maxHeldEvents) and are replayed in order after it', async () => {
    const log = logged(12, 1000);
    const { clock, delivered, asked, gaps, rec } = setup(log, 7, { maxHeldEvents: 5 });
    // While the first-contact fetch is out: 4..6 wait, then 1..2 (3 is past the bound), then 7..12 find no room.
    rec.receive('o', 7, 4, [4, 5, 6].map(wire));
    rec.receive('o', 7, 1, [1, 2, 3].map(wire));
    rec.receive('o', 7, 7, [7, 8, 9, 10, 11, 12].map(wire));
    expect(delivered).toEqual([]);
    await clock.advance(10);
    expect(delivered).toEqual([1, 2]); // 4..6 are held behind the hole at 3
    await clock.advance(1000);
    expect(asked.filter((r) => !r.fresh).map((r) => [r.from, r.to])).toEqual([[3, 3], [7, 12]]);
    expect(delivered).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(gaps).toEqual([]);
  });

  it('a hole the log still covers is fetched: no gap', async () => {
    const log = logged(30, 1000);
    const { clock, delivered, gaps, rec } = setup(log);
    rec.receive('o', 7, 1, [wire(1)]);
    await clock.advance(10);
    rec.receive('o', 7, 25, [wire(25)]);
    await clock.advance(1000);
    expect(delivered).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(gaps).toEqual([]);
  });

  it('a hole the log no longer covers: one gap for exactly the lost range, then the rest in order', async () => {
    const log = logged(30, 10); // holds 21..30
    const { clock, delivered, gaps, rec } = setup(log);
    rec.receive('o', 7, 1, [wire(1)]);
    await clock.advance(10);
    rec.receive('o', 7, 30, [wire(30)]);
    await clock.advance(1000);
    expect(gaps).toEqual([[2, 20]]);
    expect(delivered).toEqual([1, ...Array.from({ length: 10 }, (_, i) => 21 + i)]);
  });

  it('property: for any log bound and loss pattern, every event is delivered or inside a reported gap, and a gap is only reported for what the log lost', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 100 }), fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }), async (n, keep, lost) => {
      const log = logged(n, keep);
      const { clock, delivered, gaps, rec } = setup(log);
      rec.receive('o', 7, 1, [wire(1)]);
      await clock.advance(10);
      for (let i = 2; i <= n; i++) if (!lost[i - 1]) rec.receive('o', 7, i, [wire(i)]);
      rec.head('o', 7, n);
      // Each hole waits out its own recovery delay (250 ms) once it is the next one: up to 40
      // holes one after the other (the first-contact reply carries no events to cover them).
      await clock.advance(30_000);
      const inGap = (s: number): boolean => gaps.some(([f, t]) => f <= s && s <= t);
      for (let s = 1; s <= n; s++) expect(delivered.includes(s) !== inGap(s)).toBe(true);
      expect([...delivered].sort((a, b) => a - b)).toEqual(delivered); // in order
      for (const [from, to] of gaps) {
        expect(to).toBeLessThan(log.oldest); // only what the log no longer holds
        expect(from).toBeGreaterThanOrEqual(2);
      }
      if (n <= keep) expect(gaps).toEqual([]);
    }), { numRuns: 100 });
  });

  it('an origin restart (new epoch) reports what its old run never delivered', async () => {
    const log = logged(1, 100);
    const { clock, gaps, rec, origin, delivered } = setup(log);
    rec.receive('o', 7, 1, [wire(1)]);
    await clock.advance(10);
    rec.head('o', 7, 4); // the old run had sent 4; we got 1
    origin.epoch = 8; // it restarted before we could fetch 2..4
    rec.receive('o', 8, 1, [wire(1)]);
    await clock.advance(100);
    expect(gaps).toEqual([[2, 4]]);
    expect(delivered).toEqual([1, 1]); // event 1 of the old run, then event 1 of the new one
  });
});

describe('wire checks', () => {
  it('malformed messages are refused, never thrown on', () => {
    fc.assert(fc.property(fc.anything(), (v) => {
      expect(() => { parseBatch(v, 512); parseHead(v); parseFetch(v); parseFetchReply(v, 512); parseAck(v); }).not.toThrow();
    }), { numRuns: 500 });
    expect(parseFetch([1, 5, 0, 9, 0])).toEqual({ epoch: 1, from: 5, fresh: false, instance: 9, uptime: 0, to: 0 }); // an older bus's request
    expect(parseFetch([1, 5, 0, 9, 0, 8])?.to).toBe(8);
    expect(parseFetch([1, 5, 0, 9, 0, -1])).toBeUndefined();
    expect(parseFetch([1, 5, 0, 9, 0, 8, 1])).toBeUndefined();
    expect(parseBatch([1, 1, [['k', 1, 0]]], 512)).toBeDefined();
    expect(parseBatch([1, 0, [['k', 1, 0]]], 512)).toBeUndefined(); // sequence numbers start at 1
    expect(parseBatch([1, 1, []], 512)).toBeUndefined();
    expect(parseBatch([1, 1, [['x'.repeat(513), 1, 0]]], 512)).toBeUndefined();
    expect(parseBatch([1, 1, [['k', -1, 0]]], 512)).toBeUndefined();
    expect(parseBatch(batchToWire({ epoch: 3, first: 9, events: [{ key: 'a', version: 2, ack: true, hasValue: true, value: { x: 1 } }] }), 512))
      .toEqual({ epoch: 3, first: 9, events: [{ key: 'a', version: 2, ack: true, hasValue: true, value: { x: 1 } }] });
  });

  // Values the codec returns as given (msgpackr renames __proto__ keys and writes -0 as 0).
  const wireEvent = fc.record({ key: fc.string({ minLength: 1, maxLength: 8 }), version: fc.nat(), ack: fc.boolean(), value: fc.option(fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string()), fc.dictionary(fc.stringMatching(/^[a-z]{1,4}$/), fc.integer())), { nil: undefined }) })
    .map(({ key, version, ack, value }): WireEvent => (value === undefined ? { key, version, ack, hasValue: false } : { key, version, ack, hasValue: true, value }));
  const batchMsg = fc.record({ epoch: fc.nat(), first: fc.integer({ min: 1, max: 1e9 }), events: fc.array(wireEvent, { minLength: 1, maxLength: 30 }) });

  it('compact batches (format 2) round-trip, through msgpack too; format 1 batches are still read', () => {
    fc.assert(fc.property(batchMsg, (m) => {
      const expected = { ...m, events: m.events.map((e) => (e.hasValue ? { ...e, value: e.value ?? null } : e)) };
      expect(parseBatch(batchToWire(m), 512)).toEqual(expected);
      expect(parseBatch(unpack(pack(batchToWire(m))), 512)).toEqual(expected);
      expect(parseBatch(batchToWireV1(m), 512)).toEqual(expected);
    }), { numRuns: 300 });
    // A format 1 batch whose run (instance id) happens to be 2 is still format 1.
    expect(parseBatch([2, 1, [['k', 1, 0]]], 512)?.events).toEqual([{ key: 'k', version: 1, ack: false, hasValue: false }]);
    expect(parseBatch([2, 5, 1, ['a', 'b'], [100, -3]], 512)?.events.map((e) => e.version)).toEqual([100, 97]);
  });

  it('truncated, cut or garbled compact batches are refused, never thrown on; an unknown format is told apart', () => {
    fc.assert(fc.property(batchMsg, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), (m, cut, byte, at) => {
      const bytes = pack(batchToWire(m));
      const garbled = Uint8Array.from(bytes);
      garbled[at % garbled.length] = byte;
      for (const b of [bytes.subarray(0, cut % bytes.length), garbled]) {
        let v: unknown;
        try {
          v = unpack(b);
        } catch {
          continue; // the codec refused it: the cluster counts that as a decode drop
        }
        expect(() => parseBatch(v, 512)).not.toThrow();
        const r = parseBatch(v, 512);
        if (r) for (const e of r.events) expect(Number.isSafeInteger(e.version) && e.version >= 0 && e.key.length > 0).toBe(true);
      }
    }), { numRuns: 500 });
    const ok = [2, 5, 1, ['a', 'b'], [100, 1]];
    expect(parseBatch(ok, 512)).toBeDefined();
    for (const bad of [
      [2, 5, 1, ['a', 'b'], [100]], // versions shorter than keys
      [2, 5, 1, ['a', 'b'], [100, -101]], // a version below 0
      [2, 5, 1, ['a', 'b'], [2 ** 53, 1]], // not a safe integer
      [2, 5, 1, ['a', 'b'], [100, 0.5]],
      [2, 5, 0, ['a'], [1]], // sequence numbers start at 1
      [2, 5, 1, [], []],
      [2, 5, 1, ['a', ''], [1, 1]],
      [2, 5, 1, ['a', 'x'.repeat(513)], [1, 1]],
      [2, 5, 1, ['a', 'b'], [1, 1], [1, 0]], // acks not ascending
      [2, 5, 1, ['a', 'b'], [1, 1], [2]], // ack index out of range
      [2, 5, 1, ['a', 'b'], [1, 1], [], [0]], // a value index without its value
      [2, 5, 1, ['a', 'b'], [1, 1], [], [1, 'v', 0, 'w']], // values not ascending
      [2, 5, 1, ['a', 'b'], [1, 1], [], [], 9], // too long
      [2, 5, 1, 'ab', [1, 1]],
    ]) expect(parseBatch(bad, 512), JSON.stringify(bad)).toBeUndefined();
    expect(isUnknownBatchFormat([3, 5, 1, ['a'], [1]])).toBe(true);
    expect(isUnknownBatchFormat(ok)).toBe(false);
    expect(isUnknownBatchFormat([3, 1, [['k', 1, 0]]])).toBe(false); // format 1, run 3
  });

  it('every option is in docs/configuration.md with its default', () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Mesh bus'));
    for (const [k, v] of Object.entries(MESH_DEFAULTS)) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${k}\` |`));
      expect(row, k).toBeDefined();
      expect(row!.split('|')[2]!.replace(/[`,\s]/g, ''), k).toBe(String(v));
    }
  });
});

describe('version table', () => {
  it('matches a Map across growth, updates and clears, for any keys (collisions included) and seeds', async () => {
    const { VersionTable } = await import('../src/version-table.js');
    fc.assert(fc.property(fc.integer(), fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.nat()), { maxLength: 300 }), (seed, ops) => {
      const t = new VersionTable(seed, 1);
      const m = new Map<string, number>();
      ops.forEach(([k, v], i) => {
        if (i === 200) (t.clear(), m.clear());
        if (i === 100 || i === 250) t.reserve(i * 3); // grown at once, mid-use and after a clear
        const h = t.hash(k);
        const at = t.find(k, h);
        expect(at >= 0).toBe(m.has(k));
        if (at >= 0) t.setVersion(at, v);
        else t.insert(k, h, v);
        m.set(k, v);
        expect(t.size).toBe(m.size);
      });
      for (const [k, v] of m) expect(t.get(k)).toBe(v);
      expect(t.get('\u0000never')).toBe(m.get('\u0000never'));
    }), { numRuns: 200 });
  });

  it('deferred entries: settled in order, through growth and clears, they match a Map of newest versions', async () => {
    const { VersionTable } = await import('../src/version-table.js');
    fc.assert(fc.property(fc.integer(), fc.array(fc.tuple(fc.string({ maxLength: 4 }), fc.nat(3)), { maxLength: 400 }), (seed, ops) => {
      const t = new VersionTable(seed, 1);
      const m = new Map<string, number>();
      let version = 0;
      ops.forEach(([k, how], i) => {
        version++; // rising, as defer requires
        if (i === 150 || i === 300) {
          t.clear();
          m.clear();
          if (i === 150) t.reserveLater(64);
        }
        if (how === 0) {
          // An indexed insert or update, after settling (what a lookup for an older event does).
          t.settle();
          const h = t.hash(k);
          const at = t.find(k, h);
          if (at >= 0) t.setVersion(at, version);
          else t.insert(k, h, version);
        } else {
          t.defer(k, version);
        }
        m.set(k, version);
        if (how === 3) expect(t.get(k)).toBe(version); // settles everything deferred
        expect(t.size + t.deferred).toBeGreaterThanOrEqual(m.size);
      });
      for (const [k, v] of m) expect(t.get(k)).toBe(v);
      expect(t.deferred).toBe(0);
      expect(t.size).toBe(m.size);
      expect(t.get('\u0000never')).toBeUndefined();
    }), { numRuns: 200 });
  });
});

describe('batch sizer', () => {
  /** A PacketFit over a codec, wrapping the payload the way a broadcast message does (an array with the worst id and hops). */
  const fitOf = (codec: { encode(v: unknown): Uint8Array }) => ({
    measure: (v: unknown) => codec.encode(v).length,
    messageBytes: (type: number, p: unknown) => codec.encode([1, type, 'origin-node', 2 ** 53 - 1, 255, p]).length,
    fits: () => true,
    payloadBudget: 1400,
    maxMessageBytes: 1400,
  });

  it('property: with msgpack, a bare batch and every prefix cut are sized exactly as the codec encodes them', async () => {
    const { BatchSizer } = await import('../src/batch-sizer.js');
    const { utf8Length } = await import('@grapevine/core');
    const fit = fitOf(msgpackCodec);
    const sizer = new BatchSizer(fit, 65000);
    expect(sizer.exact).toBe(true);
    const version = fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.integer({ min: -300, max: 300 }), fc.constant(Date.now() * 1024));
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.string({ unit: 'binary', maxLength: 40 }), version), { minLength: 1, maxLength: 60 }),
      fc.nat(), fc.nat(), fc.integer({ min: 30, max: 1500 }),
      (events, run, first, max) => {
        const keys = events.map(([k]) => k);
        const versions = events.map(([, v]) => v);
        const lens = keys.map(utf8Length);
        const wire = (n: number) => {
          let prev = 0;
          return [2, run, first, keys.slice(0, n), versions.slice(0, n).map((v) => { const d = v - prev; prev = v; return d; })];
        };
        expect(sizer.bare(run, first, lens, versions, keys.length)).toBe(fit.messageBytes(65000, wire(keys.length)));
        const n = sizer.prefix(run, first, lens, versions, keys.length, max);
        expect(n).toBeGreaterThanOrEqual(1);
        expect(sizer.lastBytes).toBe(fit.messageBytes(65000, wire(n)));
        // The longest prefix that fits (one event even when it alone does not).
        if (n > 1) expect(sizer.lastBytes).toBeLessThanOrEqual(max);
        if (n < keys.length) expect(fit.messageBytes(65000, wire(n + 1))).toBeGreaterThan(max);
      },
    ), { numRuns: 300 });
    expect(sizer.prefix(1, 1, [3, -1], [5, 6], 2, 1400)).toBe(-1); // a key of unknown length: measure instead
  });

  it('a codec the arithmetic does not match (JSON) is measured by encoding', async () => {
    const { BatchSizer } = await import('../src/batch-sizer.js');
    const { jsonCodec } = await import('@grapevine/core');
    expect(new BatchSizer(fitOf(jsonCodec), 65000).exact).toBe(false);
  });
});

describe('batcher across many batches', () => {
  it('property: through thousands of distinct keys, re-publishes and withdrawals, waiting keys match a set model', () => {
    fc.assert(fc.property(fc.integer(), (seed) => {
      let x = seed | 0;
      const rnd = (n: number): number => ((x = (Math.imul(x, 1103515245) + 12345) | 0) >>> 8) % n;
      const b = new Batcher({ size: 50, bytes: 100_000 });
      const waiting = new Map<string, object | undefined>();
      const take = (): void => {
        const t = b.take();
        expect(new Set(t.keys).size).toBe(t.keys.length);
        expect(new Set(t.keys)).toEqual(new Set(waiting.keys()));
        waiting.clear();
      };
      for (let i = 0; i < 30_000; i++) {
        const key = `k${rnd(i < 15_000 ? 12_000 : 40)}`; // many distinct keys first, then a few hot ones
        if (rnd(10) === 0 && waiting.has(key)) {
          expect(b.withdraw(key, waiting.get(key) ?? {})).toBe(waiting.get(key) !== undefined);
          if (waiting.get(key) !== undefined) waiting.delete(key);
        } else {
          const owner = waiting.has(key) ? undefined : {};
          add(b, key, 10, i, undefined, owner);
          waiting.set(key, waiting.has(key) ? undefined : owner);
        }
        expect(b.size).toBe(waiting.size);
        expect(b.has(key)).toBe(waiting.has(key));
        if (b.full()) take();
      }
      take();
    }), { numRuns: 3 });
  });
});

describe('turn clock', () => {
  it('reads the wall clock once per turn and every REREAD_EVERY uses; a clock without soon is read every time', async () => {
    const { TurnClock, REREAD_EVERY } = await import('../src/turn-clock.js');
    let t = 1000;
    let reads = 0;
    const queued: (() => void)[] = [];
    const clock: Clock = { now: () => (reads++, t), setTimer: () => ({ cancel() {} }), soon: (fn) => queued.push(fn) };
    const c = new TurnClock(clock);
    for (let i = 0; i < REREAD_EVERY; i++) {
      expect(c.now()).toBe(1000);
      t++; // the wall moves on within the turn: the reading is reused
    }
    expect(reads).toBe(1);
    expect(c.now()).toBe(1000 + REREAD_EVERY); // read again after REREAD_EVERY uses
    expect(reads).toBe(2);
    expect(queued.length).toBe(1); // one turn-end callback per turn
    queued.shift()!();
    t = 5000;
    expect(c.now()).toBe(5000); // a new turn reads again
    expect(reads).toBe(3);
    expect(queued.length).toBe(1);

    let plainReads = 0;
    const plain = new TurnClock({ now: () => ++plainReads, setTimer: () => ({ cancel() {} }) });
    expect([plain.now(), plain.now(), plain.now()]).toEqual([1, 2, 3]);
  });
});
