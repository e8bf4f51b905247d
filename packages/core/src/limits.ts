/**
 * Every bound on inbound data, as a named option. Checked before anything is allocated for the
 * thing being bounded; a violation drops the input and counts it, never throws out of the receive path.
 * docs/limits.md lists each with what happens at the bound.
 */
import { DEFAULT_MAX_INCARNATION } from './protocol/incarnation.js';

export interface Limits {
  /** Largest inbound best-effort datagram accepted (bytes). */
  maxPacketBytes: number;
  /** Largest reliable frame accepted or sent (bytes). A push-pull of the whole membership is one frame. */
  maxFrameBytes: number;
  /** Most messages in one compound envelope (the count is one byte on the wire). */
  maxCompoundParts: number;
  /** Most member states accepted in one push-pull, and most members (including tombstones) kept. */
  maxMembers: number;
  /** Longest node name (UTF-8 bytes). */
  maxNameBytes: number;
  /** Longest address string (bytes). */
  maxAddressBytes: number;
  /** Most metadata keys per node. */
  maxMetaKeys: number;
  /** Largest metadata map, keys plus values (UTF-8 bytes). */
  maxMetaBytes: number;
  /** Nonces of sealed envelopes remembered to refuse replays; at the bound the oldest go (counted). */
  maxReplayCache: number;
  /** Most broadcasts waiting in the dissemination queue; the oldest, most-sent are dropped first. */
  maxQueuedBroadcasts: number;
  /** Most application broadcasts waiting in the piggyback queue; the most-sent, oldest go first. */
  maxQueuedMessages: number;
  /** Most broadcast ids remembered for deduplication; the oldest are forgotten first (see broadcastDedupWindow). */
  maxSeenMessages: number;
  /** Most requests of this node waiting for a reply; request() rejects ERR_LIMIT beyond it. */
  maxPendingRequests: number;
  /** Most request handlers running at once on this node; further requests get ERR_BUSY. */
  maxInboundRequests: number;
  /** Most open streams (both directions); openStream rejects and inbound opens are refused beyond it. */
  maxStreams: number;
  /**
   * Highest incarnation accepted in any claim (alive, suspect, dead, push-pull state); above it the
   * claim is dropped (`drop.incarnation`). A node that would pass it reincarnates with a new
   * instance id instead, so a refutation is always representable. At most 2^53 − 2.
   */
  maxIncarnation: number;
}

export const defaultLimits: Limits = {
  maxPacketBytes: 65_507,
  maxFrameBytes: 8 * 1024 * 1024,
  maxCompoundParts: 255,
  maxMembers: 10_000,
  maxNameBytes: 128,
  maxAddressBytes: 300,
  maxMetaKeys: 64,
  maxMetaBytes: 1024,
  maxQueuedBroadcasts: 4096,
  maxReplayCache: 100_000,
  maxQueuedMessages: 4096,
  maxSeenMessages: 100_000,
  maxPendingRequests: 10_000,
  maxInboundRequests: 1024,
  maxStreams: 256,
  maxIncarnation: DEFAULT_MAX_INCARNATION,
};
