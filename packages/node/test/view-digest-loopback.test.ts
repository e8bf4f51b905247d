/**
 * The view digest over real UDP+TCP sockets on loopback: one node loses every gossiped alive of a
 * joiner (and the joiner's own push-pull to it), periodic push-pull is off, so only the digest
 * carried in pings and acks can tell that node (or a peer that compares digests with it) that its
 * view is missing a member. Waits are
 * event-driven with generous bounds; no timing is asserted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMetrics, type InboundInfo, type Message } from '@grapevine/core';
import { createCluster, type Cluster } from '@grapevine/node';

const OPTS = { profile: 'fast', probeInterval: 250, probeTimeout: 100, gossipInterval: 50, pushPullInterval: 0 } as const;

describe('view digest on loopback (udp+tcp)', () => {
  const nodes: Cluster[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((c) => c.close()));
  });

  const until = async (check: () => boolean, what: string, ms = 30_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('a node that missed a joiner learns of it through its view digest (a digest push-pull or a reconciliation)', async () => {
    // One metrics sink for every node: the digest push-pull that repairs the deaf node may be started
    // by the deaf node (its view differs from a peer's) or by any peer that sees the deaf node's
    // digest differ from its own, whichever counts three mismatches first.
    const metrics = new MemoryMetrics();
    const seed = await createCluster({ name: 'n0', bind: '127.0.0.1:0', ...OPTS, metrics });
    nodes.push(seed);
    const addr = seed.localNode.address;
    for (let i = 1; i <= 3; i++) {
      nodes.push(await createCluster({ name: `n${i}`, bind: '127.0.0.1:0', seeds: [addr], ...OPTS, metrics }));
    }
    await until(() => nodes.every((c) => c.counts().alive === 4), 'four nodes to converge');
    await new Promise((r) => setTimeout(r, 1000)); // past every member's post-join push-pull
    const deaf = nodes[2]!;
    const swim = deaf.node as unknown as { dispatch(msg: Message, info: InboundInfo): void };
    const dispatch = swim.dispatch.bind(swim);
    swim.dispatch = (msg, info) => {
      if (msg.k === 5 && msg.name === 'joiner') return; // its gossip never arrives
      if (msg.k === 8 && !msg.reply && msg.from === 'joiner') return; // nor the joiner's post-join push-pull
      dispatch(msg, info);
    };
    // The digest's disagreement repairs it either way: a digest push-pull, or a set reconciliation
    // (this node's request answered with the joiner, or a peer's push-back after asking this node).
    const digestRepairs = (): number =>
      metrics.counter('grapevine.view-digest.sync') + metrics.counter('grapevine.reconcile.repaired') + metrics.counter('grapevine.reconcile.pushed');
    const repairsBefore = digestRepairs();
    const joiner = await createCluster({ name: 'joiner', bind: '127.0.0.1:0', seeds: [addr], ...OPTS, metrics });
    nodes.push(joiner);
    await until(() => nodes.filter((c) => c !== deaf).every((c) => c.member('joiner')?.state === 'alive'), 'the others to see the joiner');
    await until(() => deaf.member('joiner')?.state === 'alive', 'the deaf node to learn of the joiner');
    expect(digestRepairs()).toBeGreaterThan(repairsBefore);
    expect(metrics.counter('grapevine.drop.invalid')).toBe(0);
  });
});
