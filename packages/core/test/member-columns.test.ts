/**
 * What the member table holds for others, column by column: the view digest's contributions
 * (member-contributions.ts) against a digest keeping its own Map, the prober's row list through
 * compaction, a removed row's columns not leaking into the row that reuses its place, and the
 * pool's shared identities (string-pool.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Membership, profiles, type MemberRecord, type MemberState } from '@grapevine/core';
import { ALIVE, DEAD, MemberTable } from '../src/protocol/member-table.js';
import { TableContributions } from '../src/protocol/member-contributions.js';
import { EMPTY_META, NO_POOL, StringPool } from '../src/protocol/string-pool.js';
import { ViewDigest, computeViewDigest } from '../src/protocol/view-digest.js';
import { ManualClock } from './fake-clock.js';
import { pooledMembership } from './pooled-membership.js';
import { Prober } from '../src/protocol/prober.js';
import { Awareness } from '../src/protocol/awareness.js';
import type { NodeEnv } from '../src/protocol/node-env.js';
import type { Outbox } from '../src/protocol/outbox.js';
import { seededRandom } from '../src/random.js';
import { MemoryMetrics } from '../src/metrics.js';

const init = (name: string, state = ALIVE, incarnation = 0) => ({
  id: NO_POOL.identity(name, `${name}:1`, EMPTY_META, '', 1), state, incarnation, instance: 9, metaVersion: 1, stateChangedAt: 0,
});
const rec = (name: string, state: MemberState, incarnation: number): MemberRecord => ({
  name, address: `${name}:1`, state, incarnation, instance: 9, meta: {}, metaVersion: 1, stateChangedAt: 0, protocol: 1, appVersion: '',
});

type Op = { kind: 'add' | 'state' | 'bump' | 'remove'; name: number; dead: boolean; report: boolean };

describe('view digest in the member table', () => {
  it('agrees with a Map-backed digest through inserts, state changes, removals and compactions, even when a removal is never reported', () => {
    const op: fc.Arbitrary<Op> = fc.record({
      kind: fc.constantFrom('add', 'add', 'state', 'bump', 'remove'), name: fc.nat(90), dead: fc.boolean(), report: fc.boolean(),
    });
    fc.assert(fc.property(fc.array(op, { minLength: 100, maxLength: 500, size: 'max' }), fc.nat(), (ops, seed) => {
      const t = new MemberTable(seed);
      const inCol = new ViewDigest(64, new TableContributions(t));
      const inMap = new ViewDigest(64);
      const model = new Map<string, { state: MemberState; inc: number }>();
      for (const o of ops) {
        const name = `n${o.name}`;
        const m = model.get(name);
        const row = t.find(name);
        if (o.kind === 'add' && !m) {
          t.insert(init(name));
          model.set(name, { state: 'alive', inc: 0 });
        } else if (o.kind === 'state' && m) {
          m.state = o.dead ? 'dead' : m.state === 'alive' ? 'suspect' : 'alive';
          t.state[row] = o.dead ? DEAD : ALIVE;
        } else if (o.kind === 'bump' && m) {
          m.inc++;
        } else if (o.kind === 'remove' && m) {
          t.remove(row); // compacts now and then: rows move under the digest
          model.delete(name);
          // The Map-backed digest must be told; the column one subtracted at the removal already.
          inMap.update(name, undefined);
          if (o.report) inCol.update(name, undefined);
          continue;
        } else {
          continue;
        }
        const now = model.get(name)!;
        inCol.update(name, rec(name, now.state, now.inc));
        inMap.update(name, rec(name, now.state, now.inc));
      }
      const live = [...model].map(([name, m]) => rec(name, m.state, m.inc));
      expect(inCol.value).toBe(inMap.value);
      expect(inCol.value).toBe(computeViewDigest(live));
      expect(inCol.size).toBe(inMap.size);
      expect([...inCol.bucketSums(16)]).toEqual([...inMap.bucketSums(16)]);
      const flagged = new Uint8Array(8).fill(1);
      const a: string[] = [];
      const b: string[] = [];
      inCol.forEachIn(8, flagged, (n) => a.push(n) > 0);
      inMap.forEachIn(8, flagged, (n) => b.push(n) > 0);
      expect(a.sort()).toEqual(b.sort());
      for (const [name] of model) expect(inCol.has(name)).toBe(inMap.has(name));
      // A rebuild from the table's own records finds nothing drifted.
      expect(inCol.rebuild(live)).toBe(false);
    }), { numRuns: 60 });
  });

  it('does not count a name the table does not hold, and a new row never inherits a removed row\'s flag', () => {
    const t = new MemberTable(1);
    const d = new ViewDigest(16, new TableContributions(t));
    d.update('ghost', rec('ghost', 'alive', 0));
    expect(d.size).toBe(0);
    expect(d.value).toBe(0);
    // Enough rows removed to compact several times; each re-added member starts uncounted.
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 80; i++) {
        t.insert(init(`r${round}-${i}`));
        d.update(`r${round}-${i}`, rec(`r${round}-${i}`, 'alive', 0));
      }
      for (let i = 0; i < 80; i++) t.remove(t.find(`r${round}-${i}`));
      expect(d.size).toBe(0);
      expect(d.value).toBe(0);
      const fresh = t.insert(init(`fresh${round}`));
      expect(t.counted[fresh]).toBe(0);
      expect(d.has(`fresh${round}`)).toBe(false);
      t.remove(fresh);
    }
    for (let r = t.rows; r < t.counted.length; r++) expect(t.counted[r]).toBe(0);
  });
});

describe('incarnation column', () => {
  it('is 32-bit until an incarnation needs more, then keeps every value exactly, through growth and compaction', () => {
    const t = new MemberTable(3);
    for (let i = 0; i < 40; i++) t.insert(init(`m${i}`, ALIVE, 0xffff_ffd0 + i));
    expect(t.inc).toBeInstanceOf(Uint32Array);
    // All of those fit in 32 bits (the largest is 2^32 − 9); this one does not.
    t.setInc(t.find('m3'), 2 ** 53 - 2);
    expect(t.inc).toBeInstanceOf(Float64Array);
    for (let i = 40; i < 120; i++) t.insert(init(`m${i}`, ALIVE, 2 ** 40 + i));
    for (let i = 40; i < 80; i++) t.remove(t.find(`m${i}`)); // compacts
    for (let i = 0; i < 40; i++) expect(t.inc[t.find(`m${i}`)]).toBe(i === 3 ? 2 ** 53 - 2 : 0xffff_ffd0 + i);
    for (let i = 80; i < 120; i++) expect(t.inc[t.find(`m${i}`)]).toBe(2 ** 40 + i);
  });

  it('widens before storing a value past 2^32 − 1 in an insert', () => {
    const t = new MemberTable(3);
    t.insert(init('a', ALIVE, 7));
    t.insert(init('b', ALIVE, 2 ** 32));
    expect(t.inc[t.find('a')]).toBe(7);
    expect(t.inc[t.find('b')]).toBe(2 ** 32);
  });
});

describe('row list', () => {
  it('follows its rows through compaction and reads -1 for a removed one', () => {
    fc.assert(fc.property(fc.array(fc.nat(199), { maxLength: 200, size: 'max' }), fc.nat(), (removals, seed) => {
      const t = new MemberTable(seed);
      const list = t.newList();
      for (let i = 0; i < 200; i++) list.push(t.insert(init(`m${i}`)));
      const gone = new Set<string>();
      for (const i of removals) {
        const name = `m${i}`;
        if (gone.has(name)) continue;
        t.remove(t.find(name));
        gone.add(name);
      }
      expect(list.length).toBe(200);
      for (let i = 0; i < 200; i++) {
        const row = list.at(i);
        if (gone.has(`m${i}`)) {
          // Removed: -1 once compacted, else a hole no lookup reaches.
          expect(row === -1 || t.find(`m${i}`) === -1).toBe(true);
          if (row >= 0) expect(t.name(row)).not.toBe(`m${i}`);
        } else {
          expect(t.name(row)).toBe(`m${i}`);
        }
      }
    }), { numRuns: 60 });
  });
});

describe('prober order', () => {
  it('probes every live member exactly once per round, members added mid-round included, dead ones and removed rows skipped', () => {
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 25 }), (seed, addAfter, killed) => {
      const clock = new ManualClock();
      const probed: string[] = [];
      let prober: Prober | undefined;
      const m = new Membership(
        { name: 'self', address: 'self:1', incarnation: 0, instance: 1, meta: {}, metaVersion: 1, protocol: 1, appVersion: '' },
        profiles.lan, clock,
        { disseminate: () => {}, emit: () => {}, selfAccused: () => {}, added: (name) => prober?.added(name), log: () => {}, count: () => {}, compatible: () => true },
      );
      const env = { clock, random: seededRandom(seed), metrics: new MemoryMetrics() } as unknown as NodeEnv;
      const outbox = { send: (_to: string, msg: { target: string }) => probed.push(msg.target), sendReliable: () => Promise.resolve() } as unknown as Outbox;
      prober = new Prober(env, profiles.lan, m, new Awareness(8), outbox);
      const alive = (name: string): void => m.onAlive({ k: 5, name, addr: `${name}:1`, inc: 0, inst: 7, metaVer: 1, meta: {}, proto: 1, app: '' });
      for (let i = 0; i < 30; i++) alive(`old${i}`);
      // Tombstones to reap: enough rows removed to compact the table under the prober's order.
      for (let i = 0; i < 40; i++) alive(`gone${i}`);
      for (let i = 0; i < 40; i++) m.onDead({ k: 7, name: `gone${i}`, inc: 0, from: 'x', inst: 7 });
      clock.advance(profiles.lan.deadRetention);
      expect(m.reap(clock.now(), profiles.lan.deadRetention)).toHaveLength(40);
      // The first round is the order added() built (the reaped rows in it read -1 after compaction).
      for (let i = 0; i < addAfter; i++) prober.tick();
      for (let i = 0; i < 10; i++) alive(`new${i}`);
      for (let i = 0; i < killed; i++) m.onDead({ k: 7, name: `old${i}`, inc: 0, from: 'x', inst: 7 });
      // Finish the round: what was probed before the kills, then every other live member once.
      const before = new Set(probed.slice(0, addAfter));
      const rest = 40 - addAfter - [...Array(killed).keys()].filter((i) => !before.has(`old${i}`)).length;
      for (let i = 0; i < rest; i++) prober.tick();
      const round = probed;
      expect(round).toHaveLength(addAfter + rest);
      expect(new Set(round).size).toBe(round.length);
      const expected = new Set([...before, ...[...Array(30).keys()].map((i) => `old${i}`).filter((n, i) => i >= killed || before.has(n)), ...[...Array(10).keys()].map((i) => `new${i}`)]);
      expect(new Set(round)).toEqual(expected);
      expect(round.some((n) => n.startsWith('gone') || n === 'self')).toBe(false);
      prober.stop();
    }));
  });
});

describe('shared identities', () => {
  it('are one object per (name, address, profile) across tables, swapped on a move, forgotten when the last row lets go', () => {
    const pool = new StringPool();
    const clock = new ManualClock();
    const mk = (i: number) => pooledMembership(i, clock, pool);
    const [a, b] = [mk(0), mk(1)];
    for (const m of [a, b]) for (let i = 0; i < 10; i++) m.onAlive({ k: 5, name: `m${i}`, addr: `10.0.0.${i}:1`, inc: 0, inst: 7, metaVer: 1, meta: {}, proto: 1, app: '' });
    const ta = (a as unknown as { t: MemberTable }).t;
    const tb = (b as unknown as { t: MemberTable }).t;
    expect(ta.ids[ta.find('m3')]).toBe(tb.ids[tb.find('m3')]);
    const identities = (pool as unknown as { identities: Map<string, unknown> }).identities;
    expect(identities.size).toBe(10);
    // One table moves m3: it gets a new identity, the other keeps the old one.
    a.onAlive({ k: 5, name: 'm3', addr: '10.9.9.9:1', inc: 1, inst: 7, metaVer: 1, meta: {}, proto: 1, app: '' });
    expect(ta.addr(ta.find('m3'))).toBe('10.9.9.9:1');
    expect(tb.addr(tb.find('m3'))).toBe('10.0.0.3:1');
    expect(a.hasAddress('10.0.0.3:1')).toBe(false);
    expect(a.hasAddress('10.9.9.9:1')).toBe(true);
    expect(identities.size).toBe(11);
    // New metadata at a higher incarnation: a new identity, same name and address.
    b.onAlive({ k: 5, name: 'm3', addr: '10.0.0.3:1', inc: 1, inst: 7, metaVer: 2, meta: { z: '1' }, proto: 1, app: '' });
    expect(b.get('m3')!.meta).toEqual({ z: '1' });
    expect(identities.size).toBe(11); // the old (10.0.0.3, no meta) one was let go by its last row
    for (const m of [a, b]) for (let i = 0; i < 10; i++) m.onDead({ k: 7, name: `m${i}`, inc: 5, from: `m${i}`, inst: 7 });
    clock.advance(profiles.lan.deadRetention);
    a.reap(clock.now(), profiles.lan.deadRetention);
    b.reap(clock.now(), profiles.lan.deadRetention);
    expect(identities.size).toBe(0);
    expect(pool.size).toBe(0);
  });
});
