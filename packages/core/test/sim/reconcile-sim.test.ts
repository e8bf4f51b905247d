/**
 * Set reconciliation repairs a hole in a view: a node deaf to gossip while a cluster forms (every
 * alive it would hear by gossip is lost) ends up missing most members, and with every other
 * repair path closed (no periodic push-pull, no digest push-pull, push-pulls of two states) only
 * reconciliation can fill it. Simulated time throughout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterOptions, InboundInfo, Message } from '@grapevine/core';
import { Sim, type SimNode } from './harness.js';

/** Every other repair path off: what the deaf node learns after the join, it learns by reconciliation. */
const onlyReconcile: Partial<ClusterOptions> = {
  profile: 'lan', pushPullInterval: 0, viewDigestMismatches: 1_000_000, pushPullMaxMembers: 2, reconnectInterval: 0,
};

/** Until `until` (simulated ms), `node` loses every gossiped alive (k 5) about others and every reconciliation answer (k 11, 12). */
function deafUntil(sim: Sim, node: SimNode, until: number): void {
  const swim = node.cluster.node as unknown as { dispatch(msg: Message, info: InboundInfo): void };
  const dispatch = swim.dispatch.bind(swim);
  swim.dispatch = (msg, info) => {
    if (sim.clock.now() < until && ((msg.k === 5 && msg.name !== node.name) || msg.k === 11 || msg.k === 12)) return;
    dispatch(msg, info);
  };
}

function missing(sim: Sim, node: SimNode): number {
  return sim.live().filter((o) => o !== node && node.cluster.member(o.name)?.state !== 'alive').length;
}

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.shutdown();
  sim = undefined;
});

async function deafJoin(options: Partial<ClusterOptions>): Promise<{ sim: Sim; deaf: SimNode; missedAtEnd: number; repairedAt: number | undefined }> {
  const s = new Sim({ seed: 3, options: { ...onlyReconcile, ...options } });
  const n = 40;
  for (let i = 0; i < n; i++) await s.addNode();
  const deaf = s.nodes[7]!;
  const deafEnd = s.clock.now() + 3000;
  deafUntil(s, deaf, deafEnd);
  const seed = s.nodes[0]!.transport.address;
  const joins = s.nodes.slice(1).map((node) => node.cluster.join(seed));
  let settled = false;
  const all = Promise.allSettled(joins).finally(() => (settled = true));
  while (!settled) await s.clock.advance(10);
  await all;
  await s.clock.advance(Math.max(0, deafEnd - s.clock.now()));
  const missedAtEnd = missing(s, deaf);
  const ok = await s.runUntil(() => missing(s, deaf) === 0, 20_000, 10);
  return { sim: s, deaf, missedAtEnd, repairedAt: ok ? s.clock.now() - deafEnd : undefined };
}

describe('reconciliation', () => {
  it('repairs a node that was deaf to gossip during the join, within a few reconcile intervals', async () => {
    const r = await deafJoin({});
    sim = r.sim;
    expect(r.missedAtEnd).toBeGreaterThan(10); // the fault really left a hole
    expect(r.repairedAt).toBeDefined();
    expect(r.repairedAt!).toBeLessThanOrEqual(10_000);
    expect(r.deaf.metrics.counter('grapevine.reconcile.learned')).toBeGreaterThan(0);
    expect(sim.totalCounter('grapevine.reconcile.answered')).toBeGreaterThan(0);
    expect(sim.totalCounter('grapevine.view-digest.drift')).toBe(0);
  });

  it('without it the same hole stays open', async () => {
    const r = await deafJoin({ reconcile: false });
    sim = r.sim;
    expect(r.missedAtEnd).toBeGreaterThan(10);
    expect(r.repairedAt).toBeUndefined();
    expect(sim.totalCounter('grapevine.reconcile.requests')).toBe(0);
  });

  it('with a short join epidemic (joinRetransmits 2) a 60-node mass join still converges, by pull', async () => {
    sim = new Sim({ seed: 5, options: { profile: 'lan', joinRetransmits: 2 } });
    await sim.startCluster(60);
    expect(await sim.runUntil(() => sim!.converged(), 20_000, 10)).toBe(true);
    expect(sim.totalCounter('grapevine.reconcile.learned')).toBeGreaterThan(0);
  });

  /**
   * A join's reply names every member of a small converged cluster. With reconciliation on the
   * joiner does not gossip them on (they are not its news to spread: the rest of the cluster holds
   * them); with it off they get the usual join transmissions, as before.
   */
  for (const reconcile of [true, false]) {
    it(`a joiner ${reconcile ? 'does not re-gossip' : 're-gossips'} the members of its join's reply with reconciliation ${reconcile ? 'on' : 'off'}`, async () => {
      sim = new Sim({ seed: 9, options: { profile: 'lan', reconcile } });
      await sim.startCluster(20);
      expect(await sim.runUntil(() => sim!.converged(), 20_000, 10)).toBe(true);
      const x = await sim.addNode('joiner');
      let done = false;
      const join = x.cluster.join(sim.nodes[0]!.transport.address).finally(() => (done = true));
      while (!done) await sim.clock.advance(1);
      await join;
      expect(x.cluster.counts().alive).toBe(21);
      const queued = x.cluster.node.queue.size;
      if (reconcile) expect(queued).toBeLessThanOrEqual(2); // its own alive and the seed's (the sender's own state is news)
      else expect(queued).toBeGreaterThanOrEqual(20);
    });
  }
});
