/**
 * What makes a mass join cheaper: recognising a copy of alive news already held (such a copy is
 * dropped before validation and merge, so it must match only when the merge would do nothing),
 * and a piggyback queue that sends each entry exactly its limit, whatever the packet sizes.
 */
import { describe, expect, it } from 'vitest';
import { BroadcastQueue, defaultLimits, parseMessage, type MemberRecord } from '@grapevine/core';
import { isHeldAlive, isHeldState, isHeldStateWire } from '../src/protocol/held-news.js';

function record(over: Partial<MemberRecord> = {}): MemberRecord {
  return {
    name: 'n1', address: '10.0.0.1:7946', state: 'alive', incarnation: 3, instance: 77, meta: { zone: 'a' }, metaVersion: 1234,
    stateChangedAt: 0, protocol: 1, appVersion: 'v1', slot: 0, ...over,
  };
}

/** The wire array of the alive news `r` holds (messages.ts: [5, name, addr, inc, inst, metaVer, meta, proto, app]). */
function wire(r: MemberRecord): unknown[] {
  return [5, r.name, r.address, r.incarnation, r.instance, r.metaVersion, { ...r.meta }, r.protocol, r.appVersion];
}

describe('held alive news', () => {
  it('matches the exact copy of the alive a record holds, with or without metadata', () => {
    expect(isHeldAlive(wire(record()), record())).toBe(true);
    const bare = record({ meta: {} });
    expect(isHeldAlive(wire(bare), bare)).toBe(true);
    const v = wire(bare);
    v[6] = undefined;
    expect(isHeldAlive(v, bare)).toBe(true);
  });

  it('does not match when any field differs, so such news takes the validated merge path', () => {
    const r = record();
    const changes: [number, unknown][] = [
      [2, '10.0.0.2:7946'], [3, 4], [3, 2], [3, '3'], [4, 78], [5, 1235], [7, 2], [8, 'v2'],
      [6, { zone: 'b' }], [6, { zone: 'a', rack: '1' }], [6, {}], [6, ['a']], [6, 'zone'], [6, new Uint8Array(1)],
    ];
    for (const [i, value] of changes) {
      const v = wire(r);
      v[i] = value;
      expect(isHeldAlive(v, r), `field ${i} = ${String(value)}`).toBe(false);
    }
    expect(isHeldAlive([...wire(r), 'extra'], r)).toBe(false);
    expect(isHeldAlive(wire(r).slice(0, 8), r)).toBe(false);
    for (const state of ['suspect', 'dead', 'left'] as const) expect(isHeldAlive(wire(r), record({ state }))).toBe(false);
  });

  it('matches a push-pull state only when it is the alive news held', () => {
    const r = record();
    const s = { name: r.name, addr: r.address, inc: r.incarnation, inst: r.instance, state: 'alive' as const, metaVer: r.metaVersion, meta: {} };
    expect(isHeldState(s, r)).toBe(true);
    expect(isHeldState({ ...s, inc: 4 }, r)).toBe(false);
    expect(isHeldState({ ...s, inst: 1 }, r)).toBe(false);
    expect(isHeldState({ ...s, metaVer: 1 }, r)).toBe(false);
    expect(isHeldState({ ...s, addr: 'x:1' }, r)).toBe(false);
    expect(isHeldState({ ...s, state: 'dead' }, r)).toBe(false);
    expect(isHeldState(s, record({ state: 'suspect' }))).toBe(false);
  });
});

/** The wire array of the member state `r` holds in a push-pull or reconciliation list. */
function stateWire(r: MemberRecord): unknown[] {
  return [r.name, r.address, r.incarnation, r.instance, 0, r.metaVersion, { ...r.meta }, r.protocol, r.appVersion];
}

describe('held member states, skipped before parsing', () => {
  it('match the exact state held and nothing else', () => {
    const r = record();
    expect(isHeldStateWire(stateWire(r), r)).toBe(true);
    const changes: [number, unknown][] = [
      [1, '10.0.0.2:7946'], [2, 4], [2, '3'], [3, 78], [4, 1], [4, 2], [5, 1235], [6, { zone: 'b' }], [6, {}], [6, 'zone'], [7, 2], [8, 'v2'],
    ];
    for (const [i, value] of changes) {
      const v = stateWire(r);
      v[i] = value;
      expect(isHeldStateWire(v, r), `field ${i} = ${String(value)}`).toBe(false);
    }
    expect(isHeldStateWire([...stateWire(r), 'x'], r)).toBe(false);
    expect(isHeldStateWire(stateWire(r), record({ state: 'suspect' }))).toBe(false);
  });

  it('are left out of a parsed push-pull or reconciliation, and a malformed state still rejects the message', () => {
    const held = record();
    const other = record({ name: 'n2', address: '10.0.0.2:7946' });
    const table = new Map([[held.name, held]]);
    const check = (v: readonly unknown[]): boolean => {
      const r = table.get(v[0] as string);
      return r !== undefined && isHeldStateWire(v, r);
    };
    const states = [stateWire(held), stateWire(other)];
    const pp = parseMessage([8, 1, 0, 'a', 'a:1', states, 1, ''], defaultLimits, check);
    expect(pp?.k === 8 && pp.states.map((s) => s.name)).toEqual(['n2']);
    const push = parseMessage([12, 'a', states], defaultLimits, check);
    expect(push?.k === 12 && push.states.map((s) => s.name)).toEqual(['n2']);
    // Without the check both are parsed; with it, a bad state beside a held one still fails the whole list.
    const all = parseMessage([12, 'a', states], defaultLimits);
    expect(all?.k === 12 && all.states.length).toBe(2);
    const bad = stateWire(other);
    bad[2] = -1;
    expect(parseMessage([12, 'a', [stateWire(held), bad]], defaultLimits, check)).toBeNull();
  });
});

describe('broadcast queue under mixed sizes', () => {
  it('sends every entry exactly `limit` times when a packet stops at the skip limit after taking some', () => {
    const limit = 3;
    const q = new BroadcastQueue(1000);
    // The queue copies parts into its own storage: an entry is known by its first byte.
    const keys: string[] = [];
    const add = (key: string, len: number): void => {
      const part = new Uint8Array(len);
      part[0] = keys.length;
      keys.push(key);
      q.enqueue(key, part);
    };
    const keyOf = { get: (p: Uint8Array): string | undefined => keys[p[0]!] };
    // Oldest to newest: a small entry, 20 too large for a nearly full packet, a small one.
    add('small-old', 10);
    for (let i = 0; i < 20; i++) add(`big${i}`, 500);
    add('small-new', 10);
    const sent = new Map<string, number>();
    const count = (parts: Uint8Array[]): void => {
      for (const p of parts) sent.set(keyOf.get(p)!, (sent.get(keyOf.get(p)!) ?? 0) + 1);
    };
    // A nearly full packet takes small-new, then passes over 16 big entries and stops.
    count(q.take(100, 2, 255, limit));
    expect([...sent]).toEqual([['small-new', 1]]);
    // Roomy packets until the queue is empty: every entry went exactly `limit` times.
    for (let i = 0; i < 200 && q.size > 0; i++) count(q.take(1400, 2, 255, limit));
    expect(q.size).toBe(0);
    expect(sent.size).toBe(22);
    for (const [key, n] of sent) expect(n, key).toBe(limit);
  });
});
