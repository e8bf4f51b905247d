/**
 * The compact member table (member-table.ts) against the plain structures it replaced: a Map by
 * name in insertion order, a multiset of addresses, and a set of rows per state, through inserts,
 * address moves and removals enough to compact it many times.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NO_POOL, EMPTY_META } from '../src/protocol/string-pool.js';
import { ALIVE, DEAD, MemberTable } from '../src/protocol/member-table.js';
import { Membership, profiles, type MemberEvent } from '@grapevine/core';
import { ManualClock } from './fake-clock.js';

type Op = { kind: 'add' | 'remove' | 'move'; name: number; addr: number };

const row = (name: string, address: string, state = ALIVE) => ({
  id: NO_POOL.identity(name, address, EMPTY_META, '', 1), state, incarnation: 3, instance: 2 ** 52 + 7, metaVersion: 2 ** 50 + 1,
  stateChangedAt: 1_700_000_000_123,
});

describe('member table', () => {
  it('finds, iterates and counts exactly as a Map by name and a multiset of addresses would', () => {
    const op: fc.Arbitrary<Op> = fc.record({ kind: fc.constantFrom('add', 'add', 'remove', 'move'), name: fc.nat(120), addr: fc.nat(40) });
    fc.assert(fc.property(fc.array(op, { maxLength: 600 }), fc.nat(), (ops, seed) => {
      const t = new MemberTable(seed);
      const live = t.newSet();
      const dead = t.newSet();
      const model = new Map<string, { addr: string; dead: boolean }>();
      for (const o of ops) {
        const name = `n${o.name}`;
        const addr = `10.0.0.${o.addr}:7946`;
        const r = t.find(name);
        expect(r >= 0).toBe(model.has(name));
        if (o.kind === 'add' && r < 0) {
          const isDead = o.addr % 3 === 0;
          const added = t.insert(row(name, addr, isDead ? DEAD : ALIVE));
          (isDead ? dead : live).add(added);
          model.set(name, { addr, dead: isDead });
        } else if (o.kind === 'remove' && r >= 0) {
          expect((model.get(name)!.dead ? dead : live).delete(r)).toBe(true);
          t.remove(r);
          model.delete(name);
        } else if (o.kind === 'move' && r >= 0) {
          t.setIdentity(r, NO_POOL.identity(name, addr, EMPTY_META, '', 1));
          model.get(name)!.addr = addr;
        }
      }
      expect(t.size).toBe(model.size);
      // Iteration is insertion order, holes skipped (a Map's order), whatever compaction did.
      const order = [...t.rowsInOrder()];
      expect(order.map((r) => t.name(r))).toEqual([...model.keys()]);
      for (const [name, m] of model) {
        const r = t.find(name);
        expect(t.name(r)).toBe(name);
        expect(t.addr(r)).toBe(m.addr);
        expect(t.inst[r]).toBe(2 ** 52 + 7);
        expect(t.changed[r]).toBe(1_700_000_000_123);
        expect((m.dead ? dead : live).has(r)).toBe(true);
        expect((m.dead ? live : dead).has(r)).toBe(false);
      }
      const addrs = new Set([...model.values()].map((m) => m.addr));
      for (let a = 0; a <= 40; a++) expect(t.hasAddress(`10.0.0.${a}:7946`)).toBe(addrs.has(`10.0.0.${a}:7946`));
      // liveAt: an alive (here: not dead) row other than row 0 at that address.
      const liveAddrs = new Set([...model].filter(([n, m]) => !m.dead && t.find(n) !== 0).map(([, m]) => m.addr));
      for (let a = 0; a <= 40; a++) expect(t.liveAt(`10.0.0.${a}:7946`)).toBe(liveAddrs.has(`10.0.0.${a}:7946`));
      const inSets = new Set<number>();
      for (const s of [live, dead]) for (let i = 0; i < s.size; i++) inSets.add(s.at(i));
      expect(inSets).toEqual(new Set(order));
      expect(live.size + dead.size).toBe(model.size);
    }));
  });

  it('compacts away the holes of a churned table, so it does not grow with churn', () => {
    const t = new MemberTable(1);
    const live = t.newSet();
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) live.add(t.insert(row(`r${round}-${i}`, `a${i}:1`)));
      for (let i = 0; i < 100; i++) {
        const r = t.find(`r${round}-${i}`);
        live.delete(r);
        t.remove(r);
      }
    }
    expect(t.size).toBe(0);
    expect(t.rows).toBeLessThan(200);
    expect(t.state.length).toBeLessThan(400);
    expect(t.hasAddress('a1:1')).toBe(false);
  });
});

describe('membership on the compact table', () => {
  it('keeps suspicions, counts and records right across reaps that compact the table', () => {
    const clock = new ManualClock();
    const events: MemberEvent[] = [];
    const m = new Membership(
      { name: 'self', address: 'self:1', incarnation: 0, instance: 100, meta: {}, metaVersion: 1, protocol: 1, appVersion: '' },
      profiles.lan, clock,
      { disseminate: () => {}, emit: (e) => events.push(e), selfAccused: () => {}, added: () => {}, log: () => {}, count: () => {}, compatible: () => true },
    );
    for (let i = 0; i < 200; i++) m.onAlive({ k: 5, name: `m${i}`, addr: `10.0.${i >> 8}.${i & 255}:1`, inc: 1, inst: 7, metaVer: 1, meta: i % 2 ? { zone: 'a' } : {}, app: 'v2' });
    // Suspect two survivors before the reap, so their timers run across the compaction.
    m.onSuspect({ k: 6, name: 'm190', inc: 1, from: 'z', inst: 7 });
    m.onSuspect({ k: 6, name: 'm195', inc: 1, from: 'z', inst: 7 });
    for (let i = 0; i < 150; i++) m.onDead({ k: 7, name: `m${i}`, inc: 1, from: 'z', inst: 7 });
    clock.advance(1000);
    expect(m.reap(clock.now(), 500)).toHaveLength(150);
    expect(m.records.size).toBe(51);
    expect([...m.records.keys()]).toEqual(['self', ...Array.from({ length: 50 }, (_, i) => `m${150 + i}`)]);
    expect(m.hasAddress('10.0.0.10:1')).toBe(false);
    expect(m.hasAddress('10.0.0.160:1')).toBe(true);
    expect(m.get('m161')).toMatchObject({ state: 'alive', incarnation: 1, instance: 7, meta: { zone: 'a' }, appVersion: 'v2', protocol: 1 });
    expect(m.get('m190')!.suspicion?.running).toBe(true);
    // peek reads the same row in place (after the compaction moved it), and never self.
    const held = m.get('m161')!;
    const peeked = m.peek('m161')!;
    for (const f of ['state', 'address', 'incarnation', 'instance', 'metaVersion', 'meta', 'protocol', 'appVersion'] as const) expect(peeked[f]).toEqual(held[f]);
    expect(m.peek('m190')!.state).toBe('suspect');
    expect(m.peek('self')).toBeUndefined();
    expect(m.peek('m10')).toBeUndefined();
    events.length = 0;
    m.onAlive({ k: 5, name: 'm195', addr: '10.0.0.195:1', inc: 2, inst: 7, metaVer: 1, meta: {}, app: 'v2' }); // refuted
    clock.advance(profiles.lan.probeInterval * 200);
    expect(m.get('m190')!.state).toBe('dead');
    expect(m.get('m195')!.state).toBe('alive');
    expect(events.map((e) => [e.type, e.member.name])).toEqual([['alive', 'm195'], ['dead', 'm190']]);
    expect(m.counts()).toEqual({ alive: 50, suspect: 0, dead: 1, left: 0 });
    expect(new Set(m.live.toArray().map((r) => r.name))).toEqual(new Set(['self', ...Array.from({ length: 50 }, (_, i) => `m${150 + i}`).filter((n) => n !== 'm190')]));
    expect(m.live.at(0)).toBe(m.self);
    m.stopAll();
  });
});
