import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Membership, profiles, type Alive, type Dead, type MemberEvent, type Suspect } from '@grapevine/core';
import { ManualClock } from './fake-clock.js';

function table() {
  const clock = new ManualClock();
  const events: MemberEvent[] = [];
  const sent: (Alive | Suspect | Dead)[] = [];
  let accused = 0;
  const m = new Membership(
    { name: 'self', address: 'a:1', incarnation: 0, instance: 100, meta: {}, metaVersion: 1, protocol: 1, appVersion: '' },
    profiles.lan, clock,
    {
      disseminate: (_n, msg) => sent.push(msg),
      emit: (e) => events.push(e),
      selfAccused: () => accused++,
      added: () => {},
      log: () => {},
      count: () => {},
      compatible: () => true,
    },
  );
  return { m, clock, events, sent, accused: () => accused };
}

const alive = (inc: number, inst = 7, metaVer = 1): Alive => ({ k: 5, name: 'x', addr: 'x:1', inc, inst, metaVer, meta: {} });
const suspect = (inc: number, from = 'y', inst = 7): Suspect => ({ k: 6, name: 'x', inc, from, inst });
const dead = (inc: number, from = 'y', inst = 7): Dead => ({ k: 7, name: 'x', inc, from, inst });
const RANK = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;

type Msg = { kind: 'alive' | 'suspect' | 'dead' | 'left'; inc: number };
const msgArb = fc.record({ kind: fc.constantFrom('alive', 'suspect', 'dead', 'left') as fc.Arbitrary<Msg['kind']>, inc: fc.nat(5) });

function apply(m: Membership, msg: Msg): void {
  if (msg.kind === 'alive') m.onAlive(alive(msg.inc));
  else if (msg.kind === 'suspect') m.onSuspect(suspect(msg.inc));
  else if (msg.kind === 'dead') m.onDead(dead(msg.inc));
  else m.onDead(dead(msg.inc, 'x'));
}

describe('membership merge rules', () => {
  it('final state is the highest (incarnation, alive < suspect < dead < left) seen, in any order', () => {
    fc.assert(fc.property(fc.nat(5), fc.array(msgArb, { maxLength: 30 }), (firstInc, msgs) => {
      const { m } = table();
      m.onAlive(alive(firstInc));
      for (const msg of msgs) apply(m, msg);
      const r = m.get('x')!;
      let best: Msg = { kind: 'alive', inc: firstInc };
      for (const msg of msgs) {
        if (msg.inc > best.inc || (msg.inc === best.inc && RANK[msg.kind] > RANK[best.kind])) best = msg;
      }
      expect([r.incarnation, r.state]).toEqual([best.inc, best.kind]);
    }));
  });

  it('is order-independent: any permutation of the same messages ends in the same state', () => {
    fc.assert(fc.property(fc.array(msgArb, { minLength: 1, maxLength: 15 }).chain((msgs) =>
      fc.tuple(fc.constant(msgs), fc.shuffledSubarray(msgs, { minLength: msgs.length, maxLength: msgs.length }))),
    ([msgs, perm]) => {
      const a = table();
      const b = table();
      a.m.onAlive(alive(0));
      b.m.onAlive(alive(0));
      for (const x of msgs) apply(a.m, x);
      for (const x of perm) apply(b.m, x);
      const ra = a.m.get('x')!;
      const rb = b.m.get('x')!;
      expect([rb.incarnation, rb.state]).toEqual([ra.incarnation, ra.state]);
    }));
  });

  it('news about a member we never saw alive is ignored', () => {
    const { m } = table();
    m.onSuspect(suspect(3));
    m.onDead(dead(3));
    expect(m.get('x')).toBeUndefined();
  });

  it('a node refutes suspicion and death of itself with a higher incarnation', () => {
    fc.assert(fc.property(fc.array(fc.record({ dead: fc.boolean(), inc: fc.nat(50) }), { minLength: 1, maxLength: 20 }), (acc) => {
      const t = table();
      for (const a of acc) {
        const before = t.m.self.incarnation;
        const msg = { k: a.dead ? 7 : 6, name: 'self', inc: a.inc, from: 'y', inst: 100 } as Suspect | Dead;
        if (a.dead) t.m.onDead(msg as Dead);
        else t.m.onSuspect(msg as Suspect);
        if (a.inc >= before) expect(t.m.self.incarnation).toBeGreaterThan(a.inc);
        expect(t.m.self.state).toBe('alive');
      }
      expect(t.accused()).toBeGreaterThan(0);
      expect(t.sent.at(-1)).toMatchObject({ k: 5, name: 'self', inc: t.m.self.incarnation });
    }));
  });

  it('suspicion expires into death after the Lifeguard timeout; confirmations shorten it', () => {
    const slow = table();
    for (const name of ['a', 'b', 'c', 'd', 'e']) slow.m.onAlive({ ...alive(0), name, addr: `${name}:1` });
    slow.m.onAlive(alive(0));
    slow.m.onSuspect(suspect(0, 'a'));
    expect(slow.m.get('x')!.state).toBe('suspect');
    // N=7: min = 4 * max(1, log10 7) * 1000 = 4000 ms, max = 6 * min.
    slow.clock.advance(4_100);
    expect(slow.m.get('x')!.state).toBe('suspect');

    const fast = table();
    for (const name of ['a', 'b', 'c', 'd', 'e']) fast.m.onAlive({ ...alive(0), name, addr: `${name}:1` });
    fast.m.onAlive(alive(0));
    fast.m.onSuspect(suspect(0, 'a'));
    fast.m.onSuspect(suspect(0, 'b'));
    fast.m.onSuspect(suspect(0, 'b')); // the same confirmer twice counts once
    fast.m.onSuspect(suspect(0, 'c'));
    fast.clock.advance(4_100);
    expect(fast.m.get('x')!.state).toBe('dead');
    slow.clock.advance(6 * 4_000);
    expect(slow.m.get('x')!.state).toBe('dead');
  });

  it('a larger instance id replaces the record whatever the incarnation; a smaller one is ignored', () => {
    const { m, events } = table();
    m.onAlive(alive(9, 7));
    m.onAlive(alive(0, 8));
    expect(m.get('x')).toMatchObject({ instance: 8, incarnation: 0, state: 'alive' });
    m.onAlive(alive(20, 7));
    expect(m.get('x')).toMatchObject({ instance: 8, incarnation: 0 });
    m.onDead(dead(5, 'y', 7)); // verdict about the retired instance
    expect(m.get('x')!.state).toBe('alive');
    expect(events.map((e) => e.type)).toEqual(['alive', 'alive']);
  });

  it('metadata at the same incarnation is taken only when its version is newer', () => {
    const { m, events } = table();
    m.onAlive(alive(1, 7, 10));
    m.onAlive({ ...alive(1, 7, 20), meta: { role: 'db' } });
    m.onAlive({ ...alive(1, 7, 15), meta: { role: 'old' } });
    expect(m.get('x')!.meta).toEqual({ role: 'db' });
    expect(events.map((e) => e.type)).toEqual(['alive', 'updated']);
  });

  it('tombstones are reaped after the retention period', () => {
    const { m, clock } = table();
    m.onAlive(alive(0));
    m.onDead(dead(0));
    expect(m.reap(clock.now() + 1000, 5000)).toEqual([]);
    expect(m.reap(clock.now() + 5000, 5000)).toEqual(['x']);
    expect(m.get('x')).toBeUndefined();
  });
});
