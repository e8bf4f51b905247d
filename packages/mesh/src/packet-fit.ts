/**
 * How big a batch may be. A batch must ride one best-effort packet, with the same redundancy as
 * any small broadcast (a broadcast over the packet budget goes reliable to a few peers and loses
 * the piggyback path). The cluster knows its budget exactly — packet budget, envelope, label,
 * cipher — so this asks it through the public Cluster API (broadcastPayloadBudget, broadcastFits,
 * broadcastBytes, encodedSize) instead of guessing an overhead that encryption or a label would
 * silently exceed.
 */
import type { Cluster } from '@grapevine/core';

export interface PacketFit {
  /** Encoded bytes of a value with the cluster's codec. */
  measure(value: unknown): number;
  /** Exact: the broadcast of `payload` as `type` from this node fits one best-effort packet. */
  fits(type: number, payload: unknown): boolean;
  /** Bytes a payload may take in one broadcast packet (the budget minus every wrapper). */
  readonly payloadBudget: number;
  /** Exact encoded size of the broadcast message for a payload. */
  messageBytes(type: number, payload: unknown): number;
  /** The broadcast encoded once: its messageBytes (`bytes`), and `send()` to broadcast those bytes. */
  prepare(type: number, payload: unknown): { readonly bytes: number; send(): number };
  /**
   * The largest broadcast message (messageBytes) that rides one best-effort packet: fits(type, p)
   * is messageBytes(type, p) <= maxMessageBytes, so a sender measures a batch once, not twice.
   */
  readonly maxMessageBytes: number;
}

export function packetFit(cluster: Cluster<unknown>): PacketFit {
  return {
    measure: (v) => cluster.encodedSize(v),
    fits: (type, payload) => cluster.broadcastFits(type, payload),
    messageBytes: (type, payload) => cluster.broadcastBytes(type, payload),
    prepare: (type, payload) => cluster.prepareBroadcast(type, payload),
    payloadBudget: cluster.broadcastPayloadBudget(),
    // The budget is the largest fitting message less the broadcast header, measured for the
    // largest type with a null payload (Messenger.broadcastPayloadBudget): add that header back.
    maxMessageBytes: cluster.broadcastPayloadBudget() + cluster.broadcastBytes(0xffff, null) - cluster.encodedSize(null),
  };
}
