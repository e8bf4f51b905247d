/**
 * createMeshNode: Warp Mesh's zero-configuration start, in one call. It takes Warp Mesh's
 * `MeshOptions` names (port, group, interface, peers, advertiseAddr, heartbeat, batchInterval,
 * batchSize), builds the cluster with createCluster — multicast discovery on when no peers are
 * given, like Warp Mesh — and starts the bus on it. It lives here, not in @grapevine/mesh, because
 * it opens sockets: the bus itself depends on core's Cluster API only.
 */
import { GrapevineError } from '@grapevine/core';
import { createMesh, type MeshBus, type MeshOptions } from '@grapevine/mesh';
import { createCluster, DEFAULT_PORT, type CreateClusterOptions, type NodeCluster } from './create-cluster.js';
import type { MulticastOption } from './multicast-option.js';

export interface MeshNodeOptions {
  /** Gossip port, UDP and TCP (Warp Mesh `Port`). Default 7946; 0 picks a free one. */
  port?: number;
  /** Address to bind the gossip port on. Default 0.0.0.0 (every interface, like Warp Mesh). */
  bindHost?: string;
  /** Multicast group for discovery (Warp Mesh `Group`). Default 239.0.0.1. */
  group?: string;
  /** UDP port of the multicast group. Default 7947 (the gossip port's socket is not shared). */
  multicastPort?: number;
  /** Interface for multicast, by name or IPv4 address (Warp Mesh `Interface`). Default: the kernel's choice. */
  interface?: string;
  /** Static peers "host:port" (Warp Mesh `Peers`). With none, multicast discovery is on. */
  peers?: string[];
  /** Multicast discovery even with peers (true), or never (false). Default: on exactly when `peers` is empty. */
  multicast?: boolean;
  /** The "host:port" others reach this node at (Warp Mesh `AdvertiseAddr`). Default: the bound address. */
  advertiseAddr?: string;
  /** Failure-detector probe interval in ms (Warp Mesh `Heartbeat`). Default: the profile's (1000 on lan). */
  heartbeat?: number;
  /** Longest a key waits in a batch, ms (Warp Mesh `BatchInterval`). Default 100. */
  batchInterval?: number;
  /** Keys per batch (Warp Mesh `BatchSize`). Default 20. */
  batchSize?: number;
  /** Node name. Default: the host name. */
  name?: string;
  /** Any other createCluster option (keys, label, profile, ...). */
  cluster?: CreateClusterOptions;
  /** Any other bus option (retentionWindow, typeBase, ...). */
  mesh?: MeshOptions;
}

export interface MeshNode {
  readonly cluster: NodeCluster;
  readonly bus: MeshBus;
  /** Close the bus, then leave the cluster gracefully. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function createMeshNode(options: MeshNodeOptions = {}): Promise<MeshNode> {
  const o = options;
  const bad = (msg: string): never => {
    throw new GrapevineError('ERR_INVALID_OPTION', `createMeshNode: ${msg}`);
  };
  const port = o.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) bad('port must be an integer 0..65535');
  if (o.peers !== undefined && (!Array.isArray(o.peers) || o.peers.some((p) => typeof p !== 'string'))) bad('peers must be an array of "host:port" strings');
  if (o.heartbeat !== undefined && (!Number.isInteger(o.heartbeat) || o.heartbeat < 10)) bad('heartbeat must be an integer of at least 10 ms');
  const peers = o.peers ?? [];
  const multicastOn = o.multicast ?? peers.length === 0;
  const host = o.bindHost ?? '0.0.0.0';
  const multicast: MulticastOption = {
    ...(o.group !== undefined ? { group: o.group } : {}),
    ...(o.multicastPort !== undefined ? { port: o.multicastPort } : {}),
    ...(o.interface !== undefined ? { interface: o.interface } : {}),
  };
  const cluster = await createCluster({
    ...o.cluster,
    bind: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.advertiseAddr !== undefined ? { advertise: o.advertiseAddr } : {}),
    ...(peers.length > 0 ? { join: peers } : {}),
    ...(multicastOn ? { multicast } : {}),
    // The probe timeout must stay below the interval; half a short heartbeat keeps it so.
    ...(o.heartbeat !== undefined ? { probeInterval: o.heartbeat, probeTimeout: Math.max(5, Math.min(500, Math.floor(o.heartbeat / 2))) } : {}),
  });
  let bus: MeshBus;
  try {
    bus = createMesh(cluster, {
      ...o.mesh,
      ...(o.batchInterval !== undefined ? { batchInterval: o.batchInterval } : {}),
      ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    });
  } catch (err) {
    await cluster.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= bus.close().then(() => cluster.leave()));
  return { cluster, bus, close, [Symbol.asyncDispose]: close };
}
