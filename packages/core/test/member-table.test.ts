/**
 * The compact member table (member-table.ts) against the plain structures it replaced: a Map by
 * name in insertion order, a multiset of addresses, and a set of rows per state, through inserts,
 * address moves and removals enough to compact it many times.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_META } from '../src/protocol/string-pool.js';
import { ALIVE, DEAD, MemberTable } from '../src/protocol/member-table.js';

type Op = { kind: 'add' | 'remove' | 'move'; name: number; addr: number };

const row = (name: string, address: string, state = ALIVE) => ({
  name, address, state, incarnation: 3, instance: 2 ** 52 + 7, meta: EMPTY_META, metaVersion: 2 ** 50 + 1,
  stateChangedAt: 1_700_000_000_123, protocol: 1, appVersion: '',
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
          t.setAddress(r, addr);
          model.get(name)!.addr = addr;
        }
      }
      expect(t.size).toBe(model.size);
      // Iteration is insertion order, holes skipped (a Map's order), whatever compaction did.
      const order = [...t.rowsInOrder()];
      expect(order.map((r) => t.names[r])).toEqual([...model.keys()]);
      for (const [name, m] of model) {
        const r = t.find(name);
        expect(t.names[r]).toBe(name);
        expect(t.addrs[r]).toBe(m.addr);
        expect(t.inst[r]).toBe(2 ** 52 + 7);
        expect(t.changed[r]).toBe(1_700_000_000_123);
        expect((m.dead ? dead : live).has(r)).toBe(true);
        expect((m.dead ? live : dead).has(r)).toBe(false);
      }
      const addrs = new Set([...model.values()].map((m) => m.addr));
      for (let a = 0; a <= 40; a++) expect(t.hasAddress(`10.0.0.${a}:7946`)).toBe(addrs.has(`10.0.0.${a}:7946`));
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
