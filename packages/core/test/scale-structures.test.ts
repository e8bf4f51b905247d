/**
 * The data structures behind the O(1)/O(log N) hot paths, checked against the naive versions they
 * replaced: the indexable state sets and their sampling, the tombstone FIFO, the bucketed
 * broadcast queue, and the membership's incremental counts and reaper.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BroadcastQueue, Membership, StringPool, profiles, seededRandom, snapshot, type MemberRecord } from '@grapevine/core';
import { IndexedSet, sampleFrom } from '../src/protocol/indexed-set.js';
import { FifoDeadlines } from '../src/protocol/fifo-deadlines.js';
import { ManualClock } from './fake-clock.js';
import { pooledMembership } from './pooled-membership.js';

interface Item { id: number; slot: number }

describe('indexed set (swap-remove)', () => {
  it('holds exactly what a Set would after any adds and deletes, every item knowing its position', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(30)), { maxLength: 200 }), (ops) => {
      const items = Array.from({ length: 31 }, (_, id): Item => ({ id, slot: -1 }));
      const set = new IndexedSet<Item>();
      const model = new Set<number>();
      for (const [add, id] of ops) {
        if (add) {
          set.add(items[id]!);
          model.add(id);
        } else {
          expect(set.delete(items[id]!)).toBe(model.delete(id));
        }
      }
      expect(set.size).toBe(model.size);
      expect(new Set([...set.values()].map((i) => i.id))).toEqual(model);
      for (let i = 0; i < set.size; i++) expect(set.at(i).slot).toBe(i);
      for (const it of items) expect(set.has(it)).toBe(model.has(it.id));
    }));
  });

  it('samples k distinct acceptable items from a union, small or large, and every acceptable item can be picked', () => {
    fc.assert(fc.property(fc.nat(300), fc.nat(300), fc.integer({ min: 1, max: 12 }), fc.nat(1000), (na, nb, k, seed) => {
      const a = new IndexedSet<Item>();
      const b = new IndexedSet<Item>();
      for (let i = 0; i < na; i++) a.add({ id: i, slot: -1 });
      for (let i = 0; i < nb; i++) b.add({ id: 1000 + i, slot: -1 });
      const accept = (x: Item): boolean => x.id % 3 !== 0;
      const got = sampleFrom(seededRandom(seed), [a, b], k, accept);
      const acceptable = [...a.values(), ...b.values()].filter(accept).length;
      expect(got.length).toBe(Math.min(k, acceptable));
      expect(new Set(got).size).toBe(got.length);
      for (const x of got) expect(accept(x)).toBe(true);
    }));
    // Coverage: over many draws of 3 from 200, every acceptable item turns up.
    const s = new IndexedSet<Item>();
    for (let i = 0; i < 200; i++) s.add({ id: i, slot: -1 });
    const seen = new Set<number>();
    const rng = seededRandom(5);
    for (let i = 0; i < 2000; i++) for (const x of sampleFrom(rng, [s], 3, (y) => y.id !== 0)) seen.add(x.id);
    expect(seen.size).toBe(199);
    expect(seen.has(0)).toBe(false);
  });

  it('falls back to an exact filter when almost nothing is acceptable', () => {
    const s = new IndexedSet<Item>();
    for (let i = 0; i < 5000; i++) s.add({ id: i, slot: -1 });
    expect(sampleFrom(seededRandom(1), [s], 3, (x) => x.id === 4321).map((x) => x.id)).toEqual([4321]);
    expect(sampleFrom(seededRandom(1), [s], 3, () => false)).toEqual([]);
  });
});

describe('fifo deadlines', () => {
  it('gives back, oldest first, exactly the entries stamped at or before the cutoff', () => {
    fc.assert(fc.property(fc.array(fc.nat(50), { maxLength: 300 }), fc.array(fc.nat(60), { maxLength: 20 }), (gaps, cutoffs) => {
      const q = new FifoDeadlines<number>();
      let t = 0;
      const stamps: number[] = [];
      gaps.forEach((g, i) => {
        t += g;
        q.push(i, t);
        stamps.push(t);
      });
      let next = 0;
      let cut = 0;
      for (const c of [...cutoffs, Infinity]) {
        cut += c;
        const got: number[] = [];
        q.takeUntil(cut, (i, at) => {
          expect(at).toBe(stamps[i]);
          got.push(i);
        });
        const want: number[] = [];
        while (next < stamps.length && stamps[next]! <= cut) want.push(next++);
        expect(got).toEqual(want);
        expect(q.size).toBe(stamps.length - next);
      }
    }));
  });
});

describe('bucketed broadcast queue', () => {
  /** The queue as it was: one list, sorted by (transmits, newest) on every take. */
  class NaiveQueue {
    entries: { key: string; len: number; transmits: number; id: number }[] = [];
    next = 0;
    dropped = 0;
    constructor(readonly max: number) {}
    enqueue(key: string, len: number): void {
      this.entries = this.entries.filter((e) => e.key !== key);
      this.entries.push({ key, len, transmits: 0, id: this.next++ });
      if (this.entries.length > this.max) {
        const worst = [...this.entries].sort((a, b) => b.transmits - a.transmits || a.id - b.id)[0]!;
        this.entries = this.entries.filter((e) => e !== worst);
        this.dropped++;
      }
    }
    take(budget: number, over: number, maxParts: number, limit: number): string[] {
      const sorted = [...this.entries].sort((a, b) => a.transmits - b.transmits || b.id - a.id);
      const out: string[] = [];
      let used = 0;
      for (const e of sorted) {
        if (out.length >= maxParts) break;
        if (used + e.len + over > budget) continue;
        used += e.len + over;
        out.push(e.key);
        e.transmits++;
        if (e.transmits >= limit) this.entries = this.entries.filter((x) => x !== e);
      }
      return out;
    }
  }
  type Op = { t: 'enq'; key: number; len: number } | { t: 'take'; budget: number; parts: number; limit: number } | { t: 'rm'; key: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ t: fc.constant('enq' as const), key: fc.nat(20), len: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ t: fc.constant('take' as const), budget: fc.integer({ min: 0, max: 300 }), parts: fc.integer({ min: 0, max: 6 }), limit: fc.integer({ min: 1, max: 5 }) }),
    fc.record({ t: fc.constant('rm' as const), key: fc.nat(20) }),
  );

  it('takes, evicts and removes exactly like a fully sorted queue (the skip limit aside)', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 150 }), fc.integer({ min: 1, max: 12 }), (ops, max) => {
      const q = new BroadcastQueue(max);
      const n = new NaiveQueue(max);
      const done: string[] = [];
      for (const o of ops) {
        if (o.t === 'enq') {
          const key = `k${o.key}`;
          q.enqueue(key, new Uint8Array(o.len).fill(o.key), () => done.push(key));
          n.enqueue(key, o.len);
        } else if (o.t === 'rm') {
          q.remove(`k${o.key}`);
          n.entries = n.entries.filter((e) => e.key !== `k${o.key}`);
        } else {
          const got = q.take(o.budget, 2, o.parts, o.limit).map((p) => `k${p[0]}`);
          expect(got).toEqual(n.take(o.budget, 2, o.parts, o.limit));
        }
        expect(q.size).toBe(n.entries.length);
        expect(q.dropped).toBe(n.dropped);
      }
    }));
  });
});

describe('membership counts and reaper', () => {
  it('keeps live/dead/left sets and counts equal to a scan of the table, and reaps exactly the due tombstones', () => {
    type Step = { name: number; kind: 'alive' | 'suspect' | 'dead' | 'left'; inc: number; wait: number };
    const step: fc.Arbitrary<Step> = fc.record({ name: fc.nat(15), kind: fc.constantFrom('alive', 'suspect', 'dead', 'left'), inc: fc.nat(4), wait: fc.nat(30_000) });
    fc.assert(fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
      const clock = new ManualClock();
      const m = new Membership(
        { name: 'self', address: 'a:1', incarnation: 0, instance: 100, meta: {}, metaVersion: 1, protocol: 1, appVersion: '' },
        profiles.lan, clock,
        { disseminate: () => {}, emit: () => {}, selfAccused: () => {}, added: () => {}, log: () => {}, count: () => {}, compatible: () => true },
      );
      const retention = 60_000;
      for (const s of steps) {
        const name = `m${s.name}`;
        if (s.kind === 'alive') m.onAlive({ k: 5, name, addr: `${name}:1`, inc: s.inc, inst: 7, metaVer: 1, meta: {} });
        else if (s.kind === 'suspect') m.onSuspect({ k: 6, name, inc: s.inc, from: 'z', inst: 7 });
        else m.onDead({ k: 7, name, inc: s.inc, from: s.kind === 'left' ? name : 'z', inst: 7 });
        clock.advance(s.wait);
        const due = [...m.records.values()].filter((r) => (r.state === 'dead' || r.state === 'left') && clock.now() - r.stateChangedAt >= retention).map((r) => r.name);
        expect(m.reap(clock.now(), retention).sort()).toEqual(due.sort());
        const all: MemberRecord[] = [...m.records.values()];
        const c = { alive: 0, suspect: 0, dead: 0, left: 0 };
        for (const r of all) c[r.state]++;
        expect(m.counts()).toEqual(c);
        expect(m.liveCount()).toBe(c.alive + c.suspect);
        expect(new Set(m.live.values())).toEqual(new Set(all.filter((r) => r.state === 'alive' || r.state === 'suspect')));
        expect(new Set(m.dead.values())).toEqual(new Set(all.filter((r) => r.state === 'dead')));
        expect(new Set(m.left.values())).toEqual(new Set(all.filter((r) => r.state === 'left')));
      }
      m.stopAll();
    }));
  });
});

describe('string pool', () => {
  it('stores each value once across tables, changes nothing a table reports, and forgets what is reaped', () => {
    const pool = new StringPool();
    const clock = new ManualClock();
    const fresh = (s: string): string => (' ' + s).slice(1);
    const mk = (i: number) => pooledMembership(i, clock, pool);
    const plain = pooledMembership(9, clock);
    const tables = [mk(0), mk(1), plain];
    for (const m of tables) {
      for (let i = 0; i < 20; i++) {
        m.onAlive({ k: 5, name: fresh(`m${i}`), addr: fresh(`10.0.0.${i}:1`), inc: 0, inst: 7, metaVer: 1, meta: i % 2 ? { [fresh('z')]: fresh('a'), b: fresh('c') } : {}, proto: 1, app: fresh('v1') });
      }
    }
    const [a, b] = tables as [Membership, Membership, Membership];
    expect(a.get('m3')!.name).toBe(b.get('m3')!.name);
    expect(Object.is(a.get('m3')!.meta, b.get('m3')!.meta)).toBe(true);
    expect(Object.isFrozen(a.get('m3')!.meta)).toBe(true);
    expect(a.get('m3')!.meta).toEqual({ z: 'a', b: 'c' });
    for (const name of ['m2', 'm3']) expect(snapshot(a.get(name)!)).toEqual(snapshot(plain.get(name)!));
    // 20 names + 20 addresses + 'v1' + one metadata object, shared by both pooled tables.
    expect(pool.size).toBe(42);
    // A member moving address releases the old one.
    a.onAlive({ k: 5, name: 'm4', addr: '10.9.9.9:1', inc: 1, inst: 7, metaVer: 1, meta: {}, proto: 1, app: 'v1' });
    b.onAlive({ k: 5, name: 'm4', addr: '10.9.9.9:1', inc: 1, inst: 7, metaVer: 1, meta: {}, proto: 1, app: 'v1' });
    expect(pool.size).toBe(42);
    for (const m of [a, b]) for (let i = 0; i < 20; i++) m.onDead({ k: 7, name: `m${i}`, inc: 5, from: `m${i}`, inst: 7 });
    clock.advance(profiles.lan.deadRetention);
    expect(a.reap(clock.now(), profiles.lan.deadRetention)).toHaveLength(20);
    expect(pool.size).toBe(42);
    expect(b.reap(clock.now(), profiles.lan.deadRetention)).toHaveLength(20);
    expect(pool.size).toBe(0);
  });
});

describe('broadcast queue storage', () => {
  it('hands back the exact bytes queued, through repacks, supersedes and evictions, calls each done once, and gives its storage back when drained', () => {
    fc.assert(fc.property(fc.array(fc.record({ key: fc.nat(60), len: fc.integer({ min: 1, max: 300 }), take: fc.boolean() }), { maxLength: 400 }), fc.integer({ min: 1, max: 80 }), (ops, max) => {
      const q = new BroadcastQueue(max);
      const want = new Map<string, Uint8Array>();
      const doneCalls = new Map<number, number>();
      let serial = 0;
      const check = (parts: Uint8Array[]): void => {
        for (const p of parts) {
          // Every part names its key in its first byte and repeats its serial through the rest.
          const key = `k${p[0]}`;
          expect(want.has(key)).toBe(true);
          expect([...p]).toEqual([...want.get(key)!]);
        }
      };
      for (const o of ops) {
        const id = serial++;
        const part = new Uint8Array(o.len).fill(id & 255);
        part[0] = o.key;
        const key = `k${o.key}`;
        want.set(key, part.slice());
        doneCalls.set(id, 0);
        q.enqueue(key, part, () => doneCalls.set(id, doneCalls.get(id)! + 1));
        part.fill(0); // the queue holds its own copy
        if (o.take) check(q.take(1400, 2, 255, 3));
      }
      for (let i = 0; i < 10_000 && q.size > 0; i++) check(q.take(1400, 2, 255, 3));
      expect(q.size).toBe(0);
      for (const n of doneCalls.values()) expect(n).toBe(1);
      // The starting 16 slots: id (8 B), sends, offset, length and cap (4 B each); no arena.
      expect(q.storageBytes).toBeLessThanOrEqual(16 * 24);
    }));
  });

  it('keeps a part handed out by take() unchanged while the queue goes on', () => {
    const q = new BroadcastQueue(100);
    q.enqueue('a', new Uint8Array(40).fill(7));
    const [got] = q.take(1400, 2, 10, 1);
    for (let i = 0; i < 200; i++) q.enqueue(`k${i}`, new Uint8Array(50).fill(i & 255));
    expect([...got!]).toEqual(new Array(40).fill(7));
  });
});
