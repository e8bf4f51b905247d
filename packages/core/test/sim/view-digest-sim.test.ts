/**
 * View divergence after a join is found and repaired within a few protocol periods by the view
 * digest carried in pings and acks — and without it lasts until a push-pull happens to reach the
 * node that missed the joiner (30 s or more at the lan profile). Simulated time throughout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { computeViewDigest, type CompatibilityCheck } from '@grapevine/core';
import { Sim } from './harness.js';
import { loseGossipAbout, missedGossip, starvedJoin, type StarvedJoinOptions } from './view-repair.js';

/** lan profile: one protocol period is 1 s. "A few periods" is asserted as at most this many. */
const PERIOD = 1000;
const FEW_PERIODS = 5 * PERIOD;

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.shutdown();
  sim = undefined;
});

describe('view digest: a node that missed a joiner', () => {
  it('learns of it within a few protocol periods (every seed), and only after a push-pull without the digest', async () => {
    const on: number[] = [];
    const off: (number | undefined)[] = [];
    let repairs = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const r = await missedGossip(seed, 8, {}, 40_000);
      expect(r.repairMs, `seed ${seed}`).toBeDefined();
      on.push(r.repairMs!);
      // A digest push-pull, or reconciliation while it works; now and then the joiner's own
      // post-join push-pull reaches the node first (seed 6) and neither is needed.
      repairs += r.digestSyncs + r.reconciles;
    }
    expect(repairs).toBeGreaterThan(0);
    expect(Math.max(...on)).toBeLessThanOrEqual(FEW_PERIODS);
    for (let seed = 1; seed <= 3; seed++) {
      const r = await missedGossip(seed, 8, { viewDigest: false }, 40_000);
      off.push(r.repairMs);
      expect(r.digestSyncs).toBe(0);
    }
    // Nothing but a periodic push-pull (first one 30-60 s after a node starts) repairs it.
    for (const ms of off) if (ms !== undefined) expect(ms).toBeGreaterThan(20_000);
  });

  it('keeps the incremental digest equal to one computed from the whole table on every node', async () => {
    sim = new Sim({ seed: 4, options: { profile: 'lan' } });
    await sim.startCluster(10);
    expect(await sim.runUntil(() => sim!.converged(), 10_000)).toBe(true);
    const joiner = await sim.addNode('joiner');
    loseGossipAbout(sim.nodes[3]!, 'joiner');
    await Promise.all([joiner.cluster.join(sim.nodes[0]!.transport.address), sim.clock.advance(1000)]);
    await Promise.all([sim.nodes[5]!.cluster.close(), sim.clock.advance(100)]);
    await sim.runUntil(() => sim!.converged(), 30_000);
    await sim.clock.advance(5000);
    expect(sim.converged()).toBe(true);
    const digests = new Set<number>();
    for (const n of sim.live()) {
      const swim = n.cluster.node;
      expect(swim.viewDigest.value).toBe(computeViewDigest(swim.members.records.values()));
      digests.add(swim.viewDigest.value);
    }
    expect(digests.size).toBe(1); // agreeing views, one digest
    expect(sim.totalCounter('grapevine.view-digest.drift')).toBe(0);
  });
});

describe('view digest: a paused or CPU-starved node while others join, on a lossy network', () => {
  const base: Omit<StarvedJoinOptions, 'seed' | 'mode' | 'stallMs' | 'options'> = {
    n: 16, joiners: 6, loss: 0.2, packetBuffer: 0, limitMs: 60_000,
  };
  for (const [mode, stallMs] of [['pause', 6000], ['starve', 8000]] as const) {
    it(`${mode}: every divergence is repaired within a few protocol periods; without the digest it lasts until a push-pull`, async () => {
      let diverged = 0;
      let worst = 0;
      for (let seed = 1; seed <= 8; seed++) {
        const r = await starvedJoin({ ...base, seed, mode, stallMs, options: {} });
        expect(r.repairMs, `seed ${seed}`).toBeDefined();
        worst = Math.max(worst, r.repairMs!);
        if (r.diverged) diverged++;
        expect(r.drift).toBe(0);
      }
      expect(diverged).toBeGreaterThan(0); // the fault really leaves views apart
      expect(worst).toBeLessThanOrEqual(FEW_PERIODS);
      let worstOff = 0;
      for (let seed = 2; seed <= 4; seed++) {
        const r = await starvedJoin({ ...base, seed, mode, stallMs, options: { viewDigest: false } });
        worstOff = Math.max(worstOff, r.repairMs ?? Infinity);
      }
      expect(worstOff).toBeGreaterThan(20_000);
    });
  }
});

describe('view digest: compatibility and rate limit', () => {
  it('runs in a cluster where some nodes carry no digest (as an older build), without drops or syncs against them', async () => {
    sim = new Sim({ seed: 9, options: { profile: 'lan' } });
    for (let i = 0; i < 8; i++) await sim.addNode(undefined, i % 2 === 0 ? {} : { viewDigest: false });
    const seed = sim.nodes[0]!.transport.address;
    await Promise.all([...sim.nodes.slice(1).map((n) => n.cluster.join(seed)), sim.clock.advance(1000)]);
    expect(await sim.runUntil(() => sim!.converged(), 10_000)).toBe(true);
    await sim.clock.advance(20_000);
    expect(sim.converged()).toBe(true);
    expect(sim.totalCounter('grapevine.drop.invalid')).toBe(0);
    expect(sim.totalCounter('grapevine.view-digest.sync')).toBe(0);
    expect(sim.totalCounter('grapevine.suspicions-raised')).toBe(0);
    // A node without the feature does not compare, so never counts a mismatch.
    for (const n of sim.nodes.filter((_, i) => i % 2 === 1)) expect(n.metrics.counter('grapevine.view-digest.mismatch')).toBe(0);
  });

  it('a disagreement push-pull cannot settle costs at most the periodic push-pull rate after a few rounds (no storm)', async () => {
    // One node refuses a member every other node accepts: its view differs for good.
    const refuseX: CompatibilityCheck = (_local, remote) => remote.name !== 'x' || 'refused';
    sim = new Sim({ seed: 11, options: { profile: 'lan' } });
    await sim.addNode('picky', { compatible: refuseX });
    for (let i = 0; i < 8; i++) await sim.addNode();
    await sim.addNode('x');
    const seed = sim.nodes[1]!.transport.address;
    await Promise.all([...sim.nodes.filter((n) => n.name !== sim!.nodes[1]!.name).map((n) => n.cluster.join(seed)), sim.clock.advance(1000)]);
    await sim.clock.advance(10_000);
    const picky = sim.nodes[0]!;
    expect(picky.cluster.member('x')).toBeUndefined();
    const before = picky.metrics.counter('grapevine.view-digest.sync');
    const minutes = 10;
    await sim.clock.advance(minutes * 60_000);
    const syncs = picky.metrics.counter('grapevine.view-digest.sync') - before;
    expect(syncs).toBeGreaterThan(0);
    // Gap doubles 5 → 10 → 20 → 30 s (the push-pull interval at N=10): about 2 a minute, not one per
    // few seconds (its streak completes every ~1.5 s).
    expect(syncs).toBeLessThanOrEqual(minutes * 2 + 2);
    expect(picky.metrics.counter('grapevine.view-digest.rate-limited')).toBeGreaterThan(syncs);
    // The others agree among themselves: they may push-pull with picky now and then, never storm.
    const others = sim.nodes.slice(1).reduce((s, n) => s + n.metrics.counter('grapevine.view-digest.sync'), 0);
    expect(others).toBeLessThanOrEqual(9 * (minutes * 2 + 2));
  });
});
