/**
 * Protocol behaviour at scale on the in-memory network with a virtual clock. Every scenario is
 * seeded: a failure prints its seed, and re-running with that seed replays it exactly.
 */
import { describe, expect, it } from 'vitest';
import { minSuspicionTimeout } from '@grapevine/core';
import { Sim } from './harness.js';

const SEED = Number(process.env.GRAPEVINE_SIM_SEED ?? 42);

describe(`membership simulation (seed ${SEED})`, () => {
  it('200 nodes joining one seed at once converge', async () => {
    const sim = new Sim({ seed: SEED });
    await sim.startCluster(200);
    expect(await sim.runUntil(() => sim.converged(), 30_000, 20)).toBe(true);
    await sim.shutdown();
  }, 60_000);

  it('a crashed node is declared dead by every member within the suspicion bound', async () => {
    const sim = new Sim({ seed: SEED + 1 });
    const n = 50;
    await sim.startCluster(n);
    expect(await sim.runUntil(() => sim.converged(), 10_000)).toBe(true);
    await sim.clock.advance(5_000);
    const victim = sim.nodes[7]!;
    const crashedAt = sim.clock.now();
    await victim.cluster.close();
    const others = sim.live();
    const allDead = (): boolean => others.every((o) => o.cluster.member(victim.name)?.state === 'dead');
    expect(await sim.runUntil(allDead, 120_000, 20)).toBe(true);
    const cfg = others[0]!.cluster.config;
    const min = minSuspicionTimeout(cfg.suspicionMult, n, cfg.probeInterval);
    const suspects = others.flatMap((o) => o.events.filter((e) => e.type === 'suspect' && e.member.name === victim.name));
    const deaths = others.flatMap((o) => o.events.filter((e) => e.type === 'dead' && e.member.name === victim.name));
    const firstSuspect = Math.min(...suspects.map((e) => e.at));
    const lastDead = Math.max(...deaths.map((e) => e.at));
    // Lifeguard: independent confirmations shrink the timeout to its minimum; the dead verdict
    // then spreads by eager gossip. Allow one probe period of slack for confirmations to arrive.
    expect(lastDead - firstSuspect).toBeLessThanOrEqual(min + cfg.probeInterval);
    // SWIM's round-robin guarantee: every member probes every other once per round of N-1
    // periods, so some member's failed probe (one period long) raises suspicion within a round.
    expect(firstSuspect - crashedAt).toBeLessThanOrEqual(n * cfg.probeInterval);
    await sim.shutdown();
  }, 60_000);

  it('no false death in 10 simulated minutes at 10% inbound packet loss', async () => {
    const sim = new Sim({ seed: SEED + 2 });
    await sim.startCluster(20);
    expect(await sim.runUntil(() => sim.converged(), 10_000)).toBe(true);
    for (const node of sim.nodes) sim.net.setInboundLoss(node.transport.address, 0.1);
    await sim.clock.advance(10 * 60_000);
    const deaths = sim.nodes.flatMap((n) => n.events.filter((e) => e.type === 'dead'));
    expect(deaths).toEqual([]);
    expect(sim.net.stats.lost).toBeGreaterThan(1000); // the loss really happened
    expect(sim.converged()).toBe(true);
    await sim.shutdown();
  }, 120_000);

  it('a 50/50 partition of 30 s heals into one view', async () => {
    const sim = new Sim({ seed: SEED + 3 });
    await sim.startCluster(20);
    expect(await sim.runUntil(() => sim.converged(), 10_000)).toBe(true);
    const a = sim.nodes.slice(0, 10).map((n) => n.transport.address);
    const b = sim.nodes.slice(10).map((n) => n.transport.address);
    sim.net.partition(a, b);
    await sim.clock.advance(30_000);
    // Each side has given up on the other by now.
    const first = sim.nodes[0]!.cluster;
    expect(first.members({ state: 'alive' }).length).toBe(10);
    sim.net.heal();
    expect(await sim.runUntil(() => sim.converged(), 60_000, 100)).toBe(true);
    await sim.shutdown();
  }, 120_000);

  it('a restarted node (same name, new instance) replaces its old self at once', async () => {
    const sim = new Sim({ seed: SEED + 4 });
    await sim.startCluster(10);
    expect(await sim.runUntil(() => sim.converged(), 10_000)).toBe(true);
    const old = sim.nodes[4]!;
    const oldInstance = old.cluster.localNode.instance;
    await old.cluster.close();
    await sim.clock.advance(100); // far shorter than failure detection
    const fresh = await sim.addNode(old.name);
    const join = fresh.cluster.join(sim.nodes[0]!.transport.address);
    await sim.clock.advance(50);
    await join;
    const replaced = (): boolean => sim.live().every((n) => {
      const m = n.cluster.member(old.name);
      return m?.state === 'alive' && m.instance === fresh.cluster.localNode.instance;
    });
    expect(await sim.runUntil(replaced, 1_000, 10)).toBe(true);
    expect(fresh.cluster.localNode.instance).toBeGreaterThan(oldInstance);
    // Long after, the old instance was never declared dead: it was retired, not detected.
    await sim.clock.advance(30_000);
    expect(sim.nodes.flatMap((n) => n.events.filter((e) => e.type === 'dead' && e.member.name === old.name))).toEqual([]);
    expect(sim.converged()).toBe(true);
    await sim.shutdown();
  }, 60_000);

  it('replays exactly from its seed', async () => {
    const trace = async (seed: number): Promise<string[]> => {
      const sim = new Sim({ seed, jitter: 3 });
      await sim.startCluster(12);
      for (const node of sim.nodes) sim.net.setInboundLoss(node.transport.address, 0.2);
      await sim.nodes[3]!.cluster.close();
      await sim.clock.advance(20_000);
      const out = sim.nodes.flatMap((n) => n.events.map((e) => `${n.name} ${e.at} ${e.type} ${e.member.name} ${e.member.incarnation}`));
      await sim.shutdown();
      return out;
    };
    const one = await trace(SEED + 5);
    const two = await trace(SEED + 5);
    const other = await trace(SEED + 6);
    expect(one.length).toBeGreaterThan(100);
    expect(two).toEqual(one);
    expect(other).not.toEqual(one);
  }, 60_000);
});

describe('cluster API on the simulated network', () => {
  it('listeners passed at creation see the events raised while joining seeds inside create()', async () => {
    const sim = new Sim({ seed: SEED + 7 });
    await sim.startCluster(5);
    const seen: string[] = [];
    const seed = sim.nodes[0]!.transport.address;
    let done = false;
    const creating = sim.addNode('late', { seeds: [seed], on: { alive: (e) => seen.push(e.member.name) } }).finally(() => (done = true));
    while (!done) await sim.clock.advance(5);
    await creating;
    expect(seen.sort()).toEqual(['node-000', 'node-001', 'node-002', 'node-003', 'node-004']);
    await sim.shutdown();
  });

  it('watch() iterates events until its signal aborts; close() ends it too', async () => {
    const sim = new Sim({ seed: SEED + 8 });
    await sim.startCluster(3);
    const a = sim.nodes[0]!.cluster;
    const ac = new AbortController();
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of a.watch({ signal: ac.signal })) got.push(`${e.type}:${e.member.name}`);
    })();
    const leaving = sim.nodes[2]!.cluster.leave(); // waits on the virtual clock: advance it meanwhile
    await sim.clock.advance(500);
    await leaving;
    ac.abort();
    await reading;
    expect(got).toContain('left:node-002');
    const b = sim.nodes[1]!.cluster;
    const it = b.watch();
    const next = it.next();
    await b.close();
    expect((await next).done).toBe(true);
    await sim.shutdown();
  });
});
