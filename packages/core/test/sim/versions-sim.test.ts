/**
 * Version checks: a node whose application version the cluster's hook refuses cannot join (its join
 * fails with ERR_INCOMPATIBLE and the reason) and is never listed, even when gossip mentions it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CompatibilityCheck } from '@grapevine/core';
import { Sim } from './harness.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.shutdown();
  sim = undefined;
});

const sameMajor: CompatibilityCheck = (local, remote) =>
  local.app.split('.')[0] === remote.app.split('.')[0] || `major version ${remote.app} differs from ${local.app}`;

describe('version checks', () => {
  it('refuses an incompatible node at join, with the reason, on both sides', async () => {
    sim = new Sim({ seed: 21, options: { profile: 'fast', appVersion: '1.4.0', compatible: sameMajor } });
    await sim.startCluster(3);
    expect(await sim.runUntil(() => sim!.converged(), 10_000)).toBe(true);
    const compatible = await sim.addNode('new-minor', { appVersion: '1.5.2' });
    const incompatible = await sim.addNode('new-major', { appVersion: '2.0.0' });
    const seed = sim.nodes[0]!.transport.address;
    const okJoin = compatible.cluster.join(seed);
    const badJoin = incompatible.cluster.join(seed).catch((e: unknown) => e);
    await sim.clock.advance(100);
    expect(await okJoin).toBe(1);
    const err = await badJoin;
    expect(err).toMatchObject({ code: 'ERR_INCOMPATIBLE' });
    expect(String((err as Error).message)).toContain('major version 2.0.0 differs from 1.4.0');
    await sim.clock.advance(3000);
    for (const n of sim.nodes) {
      if (n === incompatible) continue;
      expect(n.cluster.member('new-major')).toBeUndefined();
      expect(n.cluster.member('new-minor')?.appVersion).toBe('1.5.2');
    }
    expect(sim.nodes[0]!.metrics.counter('grapevine.refused.incompatible')).toBeGreaterThan(0);
    // The refused node gossips its alive to the seed anyway (it knows the address): still ignored.
    incompatible.cluster.node.outbox.send(seed, incompatible.cluster.node.members.aliveMessage());
    await sim.clock.advance(500);
    expect(sim.nodes[0]!.cluster.member('new-major')).toBeUndefined();
    expect(sim.nodes[0]!.cluster.localNode).toMatchObject({ protocolVersion: 1, appVersion: '1.4.0' });
  });
});
