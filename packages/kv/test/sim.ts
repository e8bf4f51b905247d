/**
 * A small deterministic harness for the KV: N core Clusters, each with a KV, on transport-memory
 * with one virtual clock; randomness from a seed, so a run replays exactly.
 */
import { Cluster, seededRandom, type ClusterOptions } from '@grapevine/core';
import { MemoryNetwork, VirtualClock, type MemoryTransport } from '@grapevine/transport-memory';
import { createKv, type Kv, type KvOptions } from '../src/index.js';

/** UTF-8 in and out, for tests that store text values. */
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);

export interface KvNode {
  name: string;
  cluster: Cluster;
  transport: MemoryTransport;
  kv: Kv;
}

export class KvSim {
  readonly clock = new VirtualClock();
  readonly net: MemoryNetwork;
  readonly nodes: KvNode[] = [];
  private counter = 0;
  /** Per-node extra KV options (e.g. a near cache with this node's own mesh bus). */
  perNode: ((cluster: Cluster) => KvOptions) | undefined;

  constructor(
    readonly seed: number,
    readonly kvOptions: KvOptions = {},
    readonly clusterOptions: Partial<ClusterOptions> = {},
  ) {
    this.net = new MemoryNetwork({ clock: this.clock, seed, defaultDelay: 1, jitter: 1 });
  }

  async add(join = true): Promise<KvNode> {
    const idx = this.counter++;
    const name = `n${String(idx).padStart(3, '0')}`;
    const transport = this.net.createTransport(`10.0.${idx >> 8}.${idx & 255}:7946`);
    const cluster = await Cluster.create({ name, transport, clock: this.clock, random: seededRandom(this.seed * 7919 + idx), profile: 'fast', ...this.clusterOptions });
    const kv = await createKv(cluster, { clock: this.clock, ...this.kvOptions, ...this.perNode?.(cluster) });
    const node = { name, cluster, transport, kv };
    const seed = this.live()[0];
    this.nodes.push(node);
    if (join && seed) await this.settle(cluster.join(seed.transport.address));
    return node;
  }

  /** Await a promise while the virtual clock runs. */
  async settle<T>(p: Promise<T>, step = 5): Promise<T> {
    let done = false;
    const q = p.finally(() => (done = true));
    q.catch(() => undefined);
    while (!done) await this.clock.advance(step);
    return q;
  }

  live(): KvNode[] {
    return this.nodes.filter((n) => !n.cluster.closed);
  }

  /** Every live node's ring holds exactly the live nodes. */
  ringsAgree(): boolean {
    const names = this.live().map((n) => n.name).sort().join();
    return this.live().every((n) => n.kv.ring().members.map((m) => m.name).join() === names);
  }

  async runUntil(pred: () => boolean, ms: number, step = 50): Promise<boolean> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      if (pred()) return true;
      await this.clock.advance(step);
    }
    return pred();
  }

  async kill(node: KvNode): Promise<void> {
    node.kv.close();
    await node.cluster.close();
  }

  async shutdown(): Promise<void> {
    for (const n of this.nodes) {
      n.kv.close();
      await n.cluster.close();
    }
    await this.net.close();
  }
}
