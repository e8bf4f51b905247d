/**
 * Ten nodes in this process over real UDP+TCP sockets on loopback: they converge, a crashed node is
 * declared dead by every other, a node that leaves is seen as left. Waits are event-driven with
 * generous bounds; no timing is asserted.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createCluster, type Cluster, type MemberState } from '@grapevine/node';

const FAST = { profile: 'fast', probeInterval: 250, probeTimeout: 100, suspicionMult: 2, gossipInterval: 50 } as const;
const N = 10;

describe('a 10-node cluster on loopback (udp+tcp)', () => {
  const nodes = new Map<string, Cluster>();
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const w of [...waiters]) w();
  };

  afterAll(async () => {
    await Promise.all([...nodes.values()].map((c) => c.close()));
  });

  /** Resolve when `check` holds; re-checked on every member event of any node. */
  const until = (check: () => boolean, what: string, ms = 20_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const test = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        waiters.delete(test);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(test);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}: ${describeViews()}`));
      }, ms);
      waiters.add(test);
      test();
    });

  const describeViews = (): string =>
    [...nodes].map(([n, c]) => `${n}{${c.members().filter((m) => m.name !== n).map((m) => `${m.name}:${m.state}`).join(',')}}`).join(' ');

  const everyoneSees = (viewers: string[], target: string, state: MemberState): boolean =>
    viewers.every((v) => nodes.get(v)?.member(target)?.state === state);

  const start = async (name: string, seeds: string[]): Promise<Cluster> => {
    const c = await createCluster({ name, bind: '127.0.0.1:0', seeds, ...FAST });
    nodes.set(name, c);
    c.on('change', poke);
    poke();
    return c;
  };

  it('converges', async () => {
    const seed = await start('n0', []);
    await Promise.all(Array.from({ length: N - 1 }, (_, i) => start(`n${i + 1}`, [seed.localNode.address])));
    const names = [...nodes.keys()];
    await until(() => names.every((v) => names.every((t) => everyoneSees([v], t, 'alive'))), 'every node to see every other alive');
    for (const c of nodes.values()) expect(c.counts().alive).toBe(N);
  });

  it('declares a crashed node dead everywhere', async () => {
    const victim = 'n9';
    await nodes.get(victim)!.close(); // no leave: peers must detect it
    nodes.delete(victim);
    const rest = [...nodes.keys()];
    await until(() => everyoneSees(rest, victim, 'dead'), `every node to see ${victim} dead`);
    for (const name of rest) expect(nodes.get(name)!.member(victim)!.state).toBe('dead');
  });

  it('sees a graceful leave as left, not dead', async () => {
    const leaver = 'n8';
    const c = nodes.get(leaver)!;
    const rest = [...nodes.keys()].filter((n) => n !== leaver);
    const seenDead: string[] = [];
    for (const n of rest) nodes.get(n)!.on('dead', (ev) => ev.member.name === leaver && seenDead.push(n));
    await c.leave();
    nodes.delete(leaver);
    await until(() => everyoneSees(rest, leaver, 'left'), `every node to see ${leaver} left`);
    expect(seenDead).toEqual([]);
    expect(c.closed).toBe(true);
  });
});
