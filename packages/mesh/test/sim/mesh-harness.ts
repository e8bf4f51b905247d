/**
 * Buses on the deterministic simulator: the core's Sim (transport-memory + virtual clock) with a
 * MeshBus on every node and a record of what each node's catch-all subscriber saw.
 */
import type { ClusterOptions } from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { Sim, type SimNode } from '../../../core/test/sim/harness.js';
import { createMesh, type MeshBus, type MeshEvent, type MeshOptions } from '@grapevine/mesh';

export interface MeshSimNode {
  sim: SimNode;
  bus: MeshBus;
  /** Keys this node's subscriber got (tests put the origin's name in each key). */
  seen: Set<string>;
  gaps: { origin: string; from: number; to: number }[];
  /** Everything but invalidations (gaps, overflows). */
  events: MeshEvent[];
}

export class MeshSim {
  readonly sim: Sim;
  readonly nodes = new Map<string, MeshSimNode>();

  constructor(seed: number, readonly meshOptions: MeshOptions = {}, clusterOptions: Partial<ClusterOptions> = {}) {
    this.sim = new Sim({ seed, options: { profile: 'lan', codec: msgpackCodec, ...clusterOptions } });
  }

  attach(n: SimNode, opts: MeshOptions = {}): MeshSimNode {
    const bus = createMesh(n.cluster, { ...this.meshOptions, ...opts });
    const node: MeshSimNode = { sim: n, bus, seen: new Set(), gaps: [], events: [] };
    bus.subscribe({ prefix: '' }, (e) => {
      if (e.type === 'invalidate') node.seen.add(e.key);
      else if (e.type === 'gap') node.gaps.push({ origin: e.origin, from: e.from, to: e.to });
      if (e.type !== 'invalidate') node.events.push(e);
    });
    this.nodes.set(n.name, node);
    return node;
  }

  async start(n: number): Promise<void> {
    await this.sim.startCluster(n);
    await this.sim.runUntil(() => this.sim.converged(), 60_000, 100);
    for (const s of this.sim.nodes) this.attach(s);
  }

  live(): MeshSimNode[] {
    return [...this.nodes.values()].filter((n) => !n.sim.cluster.closed && !n.bus.closed);
  }

  async shutdown(): Promise<void> {
    for (const n of this.nodes.values()) await n.bus.close();
    await this.sim.shutdown();
  }
}
