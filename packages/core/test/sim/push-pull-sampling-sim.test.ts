/**
 * Bounded push-pulls: with a table larger than pushPullMaxMembers, every push-pull (a join's reply
 * included) carries our own state and a random sample of the rest, yet a cluster joined through
 * one seed still converges, and a member one node missed is still repaired by push-pulls alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GrapevineError } from '@grapevine/core';
import { Sim } from './harness.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.shutdown();
  sim = undefined;
});

describe('push-pull sampling', () => {
  it('sends at most pushPullMaxMembers states, self first, and a 40-node join through one seed converges', async () => {
    sim = new Sim({ seed: 21, options: { profile: 'lan', pushPullMaxMembers: 8 } });
    await sim.startCluster(40);
    expect(await sim.runUntil(() => sim!.converged(), 30_000, 100)).toBe(true);
    const node = sim.nodes[0]!.cluster.node;
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const states = node.pushPull.localStates();
      expect(states.length).toBe(8);
      expect(states[0]!.name).toBe(node.name);
      expect(new Set(states.map((s) => s.name)).size).toBe(8);
      for (const s of states) seen.add(s.name);
    }
    // Fresh samples: over 50 messages the whole table has been offered.
    expect(seen.size).toBe(40);
    expect(sim.totalCounter('grapevine.pushpull.sampled')).toBeGreaterThan(0);
  }, 60_000);

  it('repairs, by periodic push-pulls alone, a member whose gossip one node never got', async () => {
    sim = new Sim({ seed: 4, options: { profile: 'lan', pushPullMaxMembers: 6, pushPullInterval: 2_000, viewDigest: false } });
    await sim.startCluster(30);
    expect(await sim.runUntil(() => sim!.converged(), 30_000, 100)).toBe(true);
    // A late joiner whose alive is never gossiped to node 5: only push-pulls can carry it.
    const deaf = sim.nodes[5]!;
    const joiner = await sim.addNode('late');
    const original = deaf.cluster.node.members.onAlive.bind(deaf.cluster.node.members);
    deaf.cluster.node.members.onAlive = (a, via) => {
      if (a.name === 'late' && via !== undefined) return; // dropped when it arrives as gossip
      original(a, via);
    };
    let joined = false;
    const join = joiner.cluster.join(sim.nodes[0]!.transport.address).then(() => (joined = true));
    expect(await sim.runUntil(() => joined, 10_000, 10)).toBe(true);
    await join;
    expect(deaf.cluster.member('late')).toBeUndefined();
    expect(await sim.runUntil(() => deaf.cluster.member('late')?.state === 'alive', 120_000, 200)).toBe(true);
  }, 60_000);

  it('rejects a bound below 2', () => {
    sim = new Sim({ seed: 1 });
    return expect(sim.addNode('x', { pushPullMaxMembers: 1 })).rejects.toBeInstanceOf(GrapevineError);
  });
});
