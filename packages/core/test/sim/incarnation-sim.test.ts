/**
 * The incarnation ceiling on a live (simulated) cluster: a forged `dead` at 2^53 − 1 is refused
 * everywhere, and one at the ceiling makes its victim reincarnate with a new instance id, so it
 * stays alive in every view. Forged packets come from an outsider on the network, over the same
 * receive path as any datagram.
 */
import { describe, expect, it } from 'vitest';
import { defaultLimits, type Dead } from '@grapevine/core';
import { Forger } from './forger.js';
import { Sim } from './harness.js';

const SEED = Number(process.env.GRAPEVINE_SIM_SEED ?? 42);

async function cluster(seed: number, n: number, limits?: { maxIncarnation: number }): Promise<Sim> {
  const sim = new Sim({ seed, options: limits ? { limits } : {} });
  await sim.startCluster(n);
  expect(await sim.runUntil(() => sim.converged(), 10_000)).toBe(true);
  return sim;
}

const aliveEverywhere = (sim: Sim, name: string): boolean => sim.live().every((n) => n.cluster.member(name)?.state === 'alive');

describe(`incarnation ceiling (seed ${SEED})`, () => {
  it('a forged dead at 2^53 - 1 is refused by every node; the victim stays alive everywhere', async () => {
    const sim = await cluster(SEED + 60, 5);
    const victim = sim.nodes[2]!;
    const forger = await new Forger(sim).start();
    const dead: Dead = { k: 7, name: victim.name, inc: Number.MAX_SAFE_INTEGER, from: sim.nodes[1]!.name, inst: victim.cluster.localNode.instance };
    for (const n of sim.nodes) forger.packet(n.transport.address, [dead]);
    await sim.clock.advance(20_000);
    expect(aliveEverywhere(sim, victim.name)).toBe(true);
    expect(sim.nodes.flatMap((n) => n.events.filter((e) => e.member.name === victim.name && e.type === 'dead'))).toEqual([]);
    for (const n of sim.nodes) expect(n.metrics.counter('grapevine.drop.incarnation')).toBe(1);
    // Claims just above the ceiling are refused too; the victim never had to move.
    for (const n of sim.nodes) forger.packet(n.transport.address, [{ ...dead, inc: defaultLimits.maxIncarnation + 1 }]);
    await sim.clock.advance(5_000);
    expect(aliveEverywhere(sim, victim.name)).toBe(true);
    expect(victim.cluster.localNode.incarnation).toBe(0);
    await forger.close();
    await sim.shutdown();
  }, 60_000);

  for (const ceiling of [defaultLimits.maxIncarnation, 1_000]) {
    it(`a forged dead at the ceiling (${ceiling}) makes the victim reincarnate; it is alive everywhere, and again after a second forgery`, async () => {
      const sim = await cluster(SEED + 61, 5, { maxIncarnation: ceiling });
      const victim = sim.nodes[3]!;
      const forger = await new Forger(sim).start();
      const before = victim.cluster.localNode.instance;
      const forge = (inst: number): void => {
        const dead: Dead = { k: 7, name: victim.name, inc: ceiling, from: sim.nodes[1]!.name, inst };
        forger.packet(sim.nodes[0]!.transport.address, [dead]);
      };
      forge(before);
      // The dead verdict spreads, reaches the victim, and the victim's answer outranks it.
      expect(await sim.runUntil(() => victim.metrics.counter('grapevine.reincarnations') === 1, 10_000)).toBe(true);
      const after = victim.cluster.localNode.instance;
      expect(after).toBeGreaterThan(before);
      expect(victim.cluster.localNode.incarnation).toBe(0);
      expect(await sim.runUntil(() => aliveEverywhere(sim, victim.name) && sim.live().every((n) => n.cluster.member(victim.name)?.instance === after), 10_000)).toBe(true);
      // Old copies of the verdict about the old instance change nothing any more.
      forge(before);
      await sim.clock.advance(10_000);
      expect(aliveEverywhere(sim, victim.name)).toBe(true);
      expect(victim.metrics.counter('grapevine.reincarnations')).toBe(1);
      // The same forgery against the new instance: reincarnates again, alive again everywhere.
      forge(after);
      expect(await sim.runUntil(() => victim.metrics.counter('grapevine.reincarnations') === 2, 10_000)).toBe(true);
      expect(await sim.runUntil(() => aliveEverywhere(sim, victim.name), 10_000)).toBe(true);
      expect(sim.converged()).toBe(true);
      await forger.close();
      await sim.shutdown();
    }, 60_000);
  }

  it('metadata updates at the ceiling reincarnate too, and the new metadata reaches everyone', async () => {
    const sim = await cluster(SEED + 62, 4, { maxIncarnation: 3 });
    const node = sim.nodes[1]!;
    for (let i = 0; i < 6; i++) {
      node.cluster.updateMeta({ round: String(i) });
      await sim.clock.advance(2_000);
    }
    expect(node.metrics.counter('grapevine.reincarnations')).toBeGreaterThanOrEqual(1);
    expect(await sim.runUntil(() => sim.live().every((n) => n.cluster.member(node.name)?.meta.round === '5'), 10_000)).toBe(true);
    expect(aliveEverywhere(sim, node.name)).toBe(true);
    await sim.shutdown();
  }, 60_000);
});
