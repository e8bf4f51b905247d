/** Cluster.health(): the suspicion timers a node runs while a crashed member is suspect. */
import { describe, expect, it } from 'vitest';
import { Sim } from './harness.js';

describe('Cluster.health', () => {
  it('lists a running suspicion timer while a crashed member is suspect, none once it is dead', async () => {
    const sim = new Sim({ seed: 7 });
    await sim.startCluster(5);
    expect(await sim.runUntil(() => sim.converged(), 10_000)).toBe(true);
    const [watcher, victim] = [sim.nodes[0]!, sim.nodes[3]!];
    const h0 = watcher.cluster.health();
    expect(h0.suspicions).toEqual([]);
    expect(h0.awareness).toBeGreaterThanOrEqual(0);
    expect(h0.awarenessMax).toBe(watcher.cluster.config.awarenessMaxMultiplier - 1);
    await victim.cluster.close();
    expect(await sim.runUntil(() => watcher.cluster.member(victim.name)?.state === 'suspect', 60_000, 10)).toBe(true);
    const timer = watcher.cluster.health().suspicions.find((s) => s.name === victim.name);
    expect(timer).toBeDefined();
    expect(timer!.startedAt).toBeLessThanOrEqual(sim.clock.now());
    expect(timer!.deadline).toBeGreaterThan(sim.clock.now());
    expect(await sim.runUntil(() => watcher.cluster.member(victim.name)?.state === 'dead', 120_000, 10)).toBe(true);
    expect(watcher.cluster.health().suspicions).toEqual([]);
    await sim.shutdown();
  }, 30_000);
});
