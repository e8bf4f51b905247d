/**
 * Deterministic simulation harness: N Clusters on an in-memory network driven by a virtual clock,
 * all randomness from one seed. The same seed replays the same run.
 */
import { Cluster, MemoryMetrics, seededRandom, type ClusterOptions, type MemberEvent, type Transport } from '@grapevine/core';
import { MemoryNetwork, VirtualClock, type MemoryTransport, type NetworkEvent } from '@grapevine/transport-memory';

export interface SimNode {
  name: string;
  cluster: Cluster;
  transport: MemoryTransport;
  metrics: MemoryMetrics;
  events: MemberEvent[];
}

export interface SimOptions {
  seed: number;
  options?: Partial<ClusterOptions>;
  delay?: number;
  jitter?: number;
  /** Sees every message's fate on the network (to count what reaches an address). */
  onEvent?: (event: NetworkEvent) => void;
}

export class Sim {
  readonly clock = new VirtualClock();
  readonly net: MemoryNetwork;
  readonly nodes: SimNode[] = [];
  private counter = 0;
  /** Called with every node addNode makes, before it joins (to follow its events from the start). */
  onNode: ((node: SimNode) => void) | undefined;

  constructor(readonly opts: SimOptions) {
    this.net = new MemoryNetwork({ clock: this.clock, seed: opts.seed, defaultDelay: opts.delay ?? 1, jitter: opts.jitter ?? 1, ...(opts.onEvent ? { onEvent: opts.onEvent } : {}) });
  }

  /** `wrap` puts something between the node and its memory transport (a Stall, say). */
  async addNode(name = `node-${String(this.counter).padStart(3, '0')}`, extra: Partial<ClusterOptions> = {}, wrap?: (t: MemoryTransport) => Transport): Promise<SimNode> {
    const idx = this.counter++;
    const existing = this.nodes.find((n) => n.name === name);
    const address = existing ? existing.transport.address : `10.0.${idx >> 8}.${idx & 255}:7946`;
    const transport = this.net.createTransport(address);
    const metrics = new MemoryMetrics();
    const events: MemberEvent[] = [];
    const cluster = await Cluster.create({
      name,
      transport: wrap ? wrap(transport) : transport,
      clock: this.clock,
      random: seededRandom(this.opts.seed * 7919 + idx),
      metrics,
      ...this.opts.options,
      ...extra,
    });
    cluster.on('change', (ev) => events.push(ev));
    const node = { name, cluster, transport, metrics, events };
    if (existing) this.nodes[this.nodes.indexOf(existing)] = node;
    else this.nodes.push(node);
    this.onNode?.(node);
    return node;
  }

  /** Start n nodes; every node but the first joins node 0 at once. */
  async startCluster(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.addNode();
    const seed = this.nodes[0]!.transport.address;
    const joins = this.nodes.slice(1).map((node) => node.cluster.join(seed));
    let settled = false;
    const all = Promise.all(joins).finally(() => (settled = true));
    while (!settled) await this.clock.advance(10);
    await all;
  }

  live(): SimNode[] {
    return this.nodes.filter((n) => !n.cluster.closed);
  }

  /** Every live node sees exactly the live nodes as alive. */
  converged(): boolean {
    const live = this.live();
    // O(1) per node first: while any alive count is off (most checks of a wait), skip the exact
    // comparison, which snapshots every member of every node (N² work and garbage per check).
    if (!live.every((n) => n.cluster.counts().alive === live.length)) return false;
    const names = new Set(live.map((n) => n.name));
    return live.every((n) => {
      const alive = n.cluster.members({ state: 'alive' });
      return alive.length === names.size && alive.every((m) => names.has(m.name));
    });
  }

  async runUntil(pred: () => boolean, timeoutMs: number, step = 50): Promise<boolean> {
    const end = this.clock.now() + timeoutMs;
    while (this.clock.now() < end) {
      if (pred()) return true;
      await this.clock.advance(step);
    }
    return pred();
  }

  async shutdown(): Promise<void> {
    for (const n of this.nodes) await n.cluster.close();
    await this.net.close();
  }

  totalCounter(name: string): number {
    return this.nodes.reduce((s, n) => s + n.metrics.counter(name), 0);
  }
}
