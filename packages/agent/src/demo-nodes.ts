/**
 * The demo's nodes: each a real Cluster on loopback UDP+TCP in this process, on a transport the
 * demo can pause (while paused it drops everything it would send or deliver, as a frozen or
 * partitioned process would: peers see it stop answering), and with --kv / --mesh its own KV store
 * and invalidation bus, so the dashboard shows what an agent's would.
 */
import type { Cluster, Logger, Transport, TransportReceiver } from '@grapevine/core';
import { createKv, type Kv } from '@grapevine/kv';
import { createMesh, type MeshBus } from '@grapevine/mesh';
import { createCluster, createTransport, type ProfileName } from '@grapevine/node';
import { KvPeerStats } from './kv-peer-stats.js';

/** A transport that can stop answering: paused, it sends nothing and delivers nothing. */
export class PausableTransport implements Transport {
  paused = false;
  private readonly inner: ReturnType<typeof createTransport>;

  constructor(bind: string, logger: Logger) {
    this.inner = createTransport('udp+tcp', { bind, logger });
  }

  get packetBudget(): number {
    return this.inner.packetBudget;
  }

  get address(): string {
    return this.inner.address;
  }

  /** The inner transport's counters (the dashboard's traffic charts read them). */
  get stats(): unknown {
    return this.inner.stats;
  }

  start(receiver: TransportReceiver): Promise<void> {
    return this.inner.start({
      onMessage: (data, info) => {
        if (!this.paused) receiver.onMessage(data, info);
      },
      ...(receiver.isMember ? { isMember: (a: string) => receiver.isMember!(a) } : {}),
    });
  }

  sendPacket(to: string, data: Uint8Array): void {
    if (!this.paused) this.inner.sendPacket(to, data);
  }

  sendReliable(to: string, data: Uint8Array): Promise<void> {
    return this.paused ? Promise.reject(new Error('paused (demo)')) : this.inner.sendReliable(to, data);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface DemoNode {
  readonly name: string;
  readonly cluster: Cluster;
  readonly transport: PausableTransport;
  readonly kv: Kv<Uint8Array> | undefined;
  readonly kvPeers: KvPeerStats | undefined;
  readonly mesh: MeshBus | undefined;
}

export interface DemoNodeOptions {
  profile: ProfileName;
  logger: Logger;
  kv: boolean;
  mesh: boolean;
}

export async function startDemoNode(name: string, seed: string | undefined, o: DemoNodeOptions): Promise<DemoNode> {
  const transport = new PausableTransport('127.0.0.1:0', o.logger);
  const cluster = await createCluster({
    name,
    transport,
    profile: o.profile,
    meta: { zone: `z${(Number(name.slice(5)) % 3) + 1}` },
    logger: o.logger,
    ...(seed !== undefined ? { seeds: [seed] } : {}),
  });
  let kv: Kv<Uint8Array> | undefined;
  let kvPeers: KvPeerStats | undefined;
  if (o.kv) {
    kv = await createKv<Uint8Array>(cluster as Cluster<unknown>);
    kvPeers = new KvPeerStats(cluster, kv);
  }
  const mesh = o.mesh ? createMesh(cluster) : undefined;
  return { name, cluster, transport, kv, kvPeers, mesh };
}

/** Crash: no leave, no goodbye; the plugins stop with the node. */
export async function killDemoNode(n: DemoNode): Promise<void> {
  n.kvPeers?.close();
  n.kv?.close();
  await n.mesh?.close();
  await n.cluster.close();
}

/** Graceful end: plugins first, then a bounded leave (a plain close if it takes too long). */
export async function leaveDemoNode(n: DemoNode, ms: number): Promise<void> {
  n.kvPeers?.close();
  n.kv?.close();
  await n.mesh?.close().catch(() => undefined);
  await n.cluster.leave({ signal: AbortSignal.timeout(ms) }).catch(() => n.cluster.close());
}
