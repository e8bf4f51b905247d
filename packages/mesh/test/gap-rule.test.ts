/**
 * The gap rule: holes gossip fills, holes the log covers (fetched) and holes it no longer covers (one gap), on a manual clock.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OriginLog, resolveMeshOptions } from '@grapevine/mesh';
import type { Clock, TimerHandle } from '@grapevine/core';
import { Recovery, type RecoveryHost } from '../src/recovery.js';
import { type FetchReply, type FetchReq, type WireEvent } from '../src/wire.js';

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
