/**
 * How big a batch may be. A batch must ride one best-effort packet, with the same redundancy as
 * any small broadcast (a broadcast over the packet budget goes reliable to a few peers and loses
 * the piggyback path). The cluster knows its budget exactly — packet budget, envelope, label,
 * cipher — so this asks it, through the two read-only helpers the Cluster exposes on `node`
 * (its codec and its packet-fit check), instead of guessing an overhead that encryption or a
 * label would silently exceed.
 */
import { userToWire, type Cluster } from '@grapevine/core';

export interface PacketFit {
  /** Encoded bytes of a value with the cluster's codec. */
  measure(value: unknown): number;
  /** Exact: the broadcast of `payload` as `type` from this node fits one best-effort packet. */
  fits(type: number, payload: unknown): boolean;
  /** Bytes a payload may take in one broadcast packet (the budget minus every wrapper). */
  readonly payloadBudget: number;
  /** Exact encoded size of the broadcast message for a payload. */
  messageBytes(type: number, payload: unknown): number;
}

/** The largest id and hop count a broadcast can carry, so a measured message is never smaller than the sent one. */
const WORST_ID = 2 ** 53 - 1;
const WORST_HOPS = 255;

export function packetFit(cluster: Cluster<unknown>): PacketFit {
  const codec = cluster.node.env.codec;
  const outbox = cluster.node.outbox;
  const origin = cluster.name;
  const message = (type: number, payload: unknown): Uint8Array =>
    codec.encode(userToWire({ s: 1, type, origin, id: WORST_ID, hops: WORST_HOPS, payload }));
  // The largest part that fits: fitsPacket only looks at the length.
  let lo = 0;
  let hi = 65_536;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (outbox.fitsPacket(new Uint8Array(mid))) lo = mid;
    else hi = mid - 1;
  }
  const emptyMessage = message(65535, null).length;
  return {
    measure: (v) => codec.encode(v).length,
    fits: (type, payload) => outbox.fitsPacket(message(type, payload)),
    messageBytes: (type, payload) => message(type, payload).length,
    payloadBudget: Math.max(0, lo - emptyMessage),
  };
}
