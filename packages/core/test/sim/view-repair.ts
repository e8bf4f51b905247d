/**
 * Scenarios in which one node's view misses a member after a join, for the view-digest tests:
 * gossip about the joiner lost at one node, and a node paused or CPU-starved while others join,
 * on a lossy network. Each returns how long the views took to agree again (simulated ms).
 */
import type { ClusterOptions, InboundInfo, Message } from '@grapevine/core';
import { Stall } from '@grapevine/transport-memory';
import { Sim, type SimNode } from './harness.js';

/** Every live node holds every other live node as alive or suspect (nobody is missing anyone). */
export function everyoneKnowsEveryone(sim: Sim): boolean {
  const live = sim.live();
  return live.every((n) => live.every((o) => {
    const s = n.cluster.member(o.name)?.state;
    return s === 'alive' || s === 'suspect';
  }));
}

/** Make `node` lose every alive message about `name` that arrives by gossip (push-pull still carries it). */
export function loseGossipAbout(node: SimNode, name: string): void {
  const swim = node.cluster.node as unknown as { dispatch(msg: Message, info: InboundInfo): void };
  const dispatch = swim.dispatch.bind(swim);
  swim.dispatch = (msg, info) => {
    if (msg.k === 5 && msg.name === name) return;
    dispatch(msg, info);
  };
}

export interface MissedGossipResult {
  /** From the joiner's join resolving until the deaf node knew it (ms), or undefined if it never did within the limit. */
  repairMs: number | undefined;
  digestSyncs: number;
  /** Members learned by reconciliation (it stands in for the digest push-pull while it works). */
  reconciles: number;
}

/**
 * `n` nodes converge; then one more joins while one existing node loses all gossip about it.
 * Returns how long until that node learns of the joiner.
 */
export async function missedGossip(seed: number, n: number, options: Partial<ClusterOptions>, limitMs: number): Promise<MissedGossipResult> {
  const sim = new Sim({ seed, options: { profile: 'lan', ...options } });
  try {
    await sim.startCluster(n);
    if (!(await sim.runUntil(() => sim.converged(), 10_000))) throw new Error('cluster did not form');
    await sim.clock.advance(2000); // past every member's post-join push-pull
    const deaf = sim.nodes[1 + (seed % (n - 1))]!;
    const joiner = await sim.addNode('joiner');
    loseGossipAbout(deaf, 'joiner');
    const join = joiner.cluster.join(sim.nodes[0]!.transport.address);
    let joined = false;
    void join.then(() => (joined = true));
    await sim.runUntil(() => joined, 10_000, 10);
    const t0 = sim.clock.now();
    const ok = await sim.runUntil(() => deaf.cluster.member('joiner')?.state === 'alive', limitMs, 10);
    return { repairMs: ok ? sim.clock.now() - t0 : undefined, digestSyncs: sim.totalCounter('grapevine.view-digest.sync'), reconciles: sim.totalCounter('grapevine.reconcile.learned') };
  } finally {
    await sim.shutdown();
  }
}

export interface StarvedJoinResult {
  /** From every join resolved, at a moment the node runs (after a pause; in a running slice when starved), until nobody missed anybody (ms). */
  repairMs: number | undefined;
  /** Whether some node was missing some member when the fault ended. */
  diverged: boolean;
  digestSyncs: number;
  drift: number;
}

export interface StarvedJoinOptions {
  seed: number;
  /** Nodes before the joins. */
  n: number;
  /** Nodes joining while one member is starved. */
  joiners: number;
  /** Packet loss on every link. */
  loss: number;
  /** 'pause': one stall of stallMs; 'starve': paused 80% of every 500 ms for stallMs. */
  mode: 'pause' | 'starve';
  stallMs: number;
  /** Packets the starved node's socket buffer holds. */
  packetBuffer: number;
  options: Partial<ClusterOptions>;
  limitMs: number;
}

/**
 * `n` nodes converge; one member is then paused (or starved) and, while it is, `joiners` new nodes
 * join on a lossy network. Measures how long after the fault the views agree.
 */
export async function starvedJoin(o: StarvedJoinOptions): Promise<StarvedJoinResult> {
  const sim = new Sim({ seed: o.seed, options: { profile: 'lan', ...o.options } });
  try {
    const stall = new Stall(sim.clock, { packetBuffer: o.packetBuffer });
    for (let i = 0; i < o.n; i++) {
      if (i === 1) await sim.addNode(undefined, { clock: stall.clock }, (t) => stall.wrap(t));
      else await sim.addNode();
    }
    const seedAddr = sim.nodes[0]!.transport.address;
    let pending = o.n - 1;
    for (const node of sim.nodes.slice(1)) void node.cluster.join(seedAddr).finally(() => pending--);
    await sim.runUntil(() => pending === 0, 30_000, 10);
    if (!(await sim.runUntil(() => sim.converged(), 30_000))) throw new Error('cluster did not form');
    await sim.clock.advance(2000);
    sim.net.setLoss('*', '*', o.loss);
    if (o.mode === 'pause') stall.stall(o.stallMs);
    else stall.starve(400, 500, o.stallMs);
    await sim.clock.advance(Math.min(500, o.stallMs / 4));
    let joining = o.joiners;
    for (let j = 0; j < o.joiners; j++) {
      const node = await sim.addNode(`joiner-${j}`);
      void node.cluster.join(seedAddr).catch(() => undefined).finally(() => joining--);
    }
    await sim.runUntil(() => joining === 0 && !stall.stalled, 60_000, 10);
    const t0 = sim.clock.now();
    const diverged = !everyoneKnowsEveryone(sim);
    const ok = await sim.runUntil(() => everyoneKnowsEveryone(sim), o.limitMs, 10);
    return {
      repairMs: ok ? sim.clock.now() - t0 : undefined,
      diverged,
      digestSyncs: sim.totalCounter('grapevine.view-digest.sync'),
      drift: sim.totalCounter('grapevine.view-digest.drift'),
    };
  } finally {
    await sim.shutdown();
  }
}
