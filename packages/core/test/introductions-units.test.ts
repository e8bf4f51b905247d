/**
 * Introductions whose source became trusted meanwhile (introductions.ts): admitted at the next
 * protocol period without a verification ping; the others are still pinged, and a source that
 * never becomes a member's gets nothing admitted.
 */
import { describe, expect, it } from 'vitest';
import { Introductions } from '../src/protocol/introductions.js';
import type { Alive, NodeState } from '../src/protocol/messages.js';
import { profiles, seededRandom } from '@grapevine/core';
import { ManualClock } from './fake-clock.js';

function alive(name: string): Alive {
  return { k: 5, name, addr: `${name}:1`, inc: 0, inst: 1, metaVer: 0, meta: {} };
}

function setup(trustedSources: Set<string>) {
  const pinged: string[] = [];
  const admitted: string[] = [];
  const counts = new Map<string, number>();
  const intro = new Introductions(
    { max: 100, perSource: 10, probesPerPeriod: 10, attempts: 3, rememberFor: 60_000 },
    {
      now: () => 0,
      ping: (name) => pinged.push(name),
      admit: (a) => admitted.push(a.name),
      count: (m) => counts.set(m, (counts.get(m) ?? 0) + 1),
      trusted: (source) => trustedSources.has(source),
    },
  );
  return { intro, pinged, admitted, counts };
}

describe('introductions', () => {
  it('admit, without a ping, the candidates of a source that has become a member’s address', () => {
    const trusted = new Set<string>();
    const { intro, pinged, admitted, counts } = setup(trusted);
    for (const n of ['a', 'b', 'c']) intro.offer(alive(n), { key: 'joiner:1', trusted: false });
    intro.offer(alive('d'), { key: 'stranger:1', trusted: false });
    trusted.add('joiner:1');
    intro.tick();
    expect(admitted.sort()).toEqual(['a', 'b', 'c']);
    expect(counts.get('introductions.vouched')).toBe(3);
    expect(pinged).toEqual(['d']);
    expect(intro.size).toBe(1);
    expect(intro.has('d')).toBe(true);
  });

  it('admit nothing from a source that never becomes trusted; its candidates are pinged instead', () => {
    const { intro, pinged, admitted, counts } = setup(new Set());
    for (const n of ['a', 'b']) intro.offer(alive(n), { key: 'forger:1', trusted: false });
    intro.tick();
    expect(admitted).toEqual([]);
    expect(counts.get('introductions.vouched')).toBeUndefined();
    expect(pinged.sort()).toEqual(['a', 'b']);
  });
});

describe('an unrequested push-pull from an address not yet known', () => {
  async function receive(states: NodeState[]) {
    const { Membership } = await import('../src/protocol/membership.js');
    const { PushPullExchange } = await import('../src/protocol/push-pull.js');
    const introduced: string[] = [];
    const m = new Membership(
      { name: 'self', address: 'self:1', incarnation: 0, instance: 100, meta: {}, metaVersion: 1, protocol: 1, appVersion: '' },
      profiles.lan, new ManualClock(),
      {
        disseminate: () => {}, emit: () => {}, selfAccused: () => {}, added: () => {}, log: () => {}, count: () => {},
        compatible: () => true, introduce: (a) => introduced.push(a.name),
      },
    );
    const env = { clock: new ManualClock(), random: seededRandom(1), metrics: { increment: () => undefined } };
    const outbox = { encode: () => new Uint8Array(1), sendPartReliable: () => Promise.resolve() };
    const pp = new PushPullExchange(env as never, m, outbox as never, () => 1000, { check: () => null } as never, (addr) => m.hasAddress(addr));
    pp.onPushPull({ k: 8, seq: 1, join: false, reply: false, from: 'x', fromAddr: 'x:1', states, proto: 1, app: '' }, { from: 'x:1' } as never);
    return { m, introduced };
  }
  const st = (name: string): NodeState => ({ name, addr: `${name}:1`, inc: 0, inst: 1, state: 'alive', metaVer: 0, meta: {}, proto: 1, app: '' });

  it('trusts the states after the sender’s own once that state made its address a member’s', async () => {
    const { m, introduced } = await receive([st('x'), st('y'), st('z')]);
    expect(introduced).toEqual([]);
    expect(m.get('y')?.state).toBe('alive');
    expect(m.get('z')?.state).toBe('alive');
  });

  it('holds them as introductions when the sender’s own state does not come first', async () => {
    const { m, introduced } = await receive([st('y'), st('x')]);
    expect(introduced).toEqual(['y']);
    expect(m.get('y')).toBeUndefined();
    expect(m.get('x')?.state).toBe('alive');
  });
});
