import { GrapevineError } from './errors.js';
import { defaultLimits, type Limits } from './limits.js';
import { MAX_INCARNATION_CEILING } from './protocol/incarnation.js';
import { isBucketCount, MAX_DIGEST_BUCKETS } from './protocol/view-digest.js';

/**
 * Protocol timing and sizing. Defaults mirror memberlist's LAN profile; every field is listed in
 * docs/configuration.md. All durations are milliseconds.
 */
export interface ProtocolConfig {
  /** Time between failure-detection probes of one member. */
  probeInterval: number;
  /** How long to wait for a direct ack before asking helpers (ping-req). */
  probeTimeout: number;
  /** Helpers asked to probe indirectly (k). */
  indirectChecks: number;
  /** Also ping over the reliable transport when UDP gets no answer (memberlist's TCP fallback). */
  tcpFallbackPing: boolean;
  /** Suspicion timeout = suspicionMult × max(1, log10 N) × probeInterval (the Lifeguard minimum). */
  suspicionMult: number;
  /** The maximum suspicion timeout is this times the minimum; confirmations shrink it toward the minimum. */
  suspicionMaxTimeoutMult: number;
  /** Lifeguard local health: the probe interval and timeout scale up to this multiple. */
  awarenessMaxMultiplier: number;
  /** Periodic gossip tick. */
  gossipInterval: number;
  /** Peers each gossip tick sends to. */
  gossipNodes: number;
  /**
   * When something new enters the dissemination queue, gossip it after this delay instead of
   * waiting for the tick (0 disables eager gossip). Batches bursts into one packet.
   */
  eagerGossipDelay: number;
  /** Keep gossiping to dead members for this long, so a falsely dead node learns and refutes. */
  gossipToTheDead: number;
  /** Each update is retransmitted retransmitMult × ceil(log10(N+1)) times by each node. */
  retransmitMult: number;
  /** Base push-pull (anti-entropy) interval; scaled up with N like memberlist (0 disables). */
  pushPullInterval: number;
  /**
   * Most member states one push-pull message carries (at least 2). A larger table is sent as our
   * own state plus a random sample of the others, fresh each exchange, so a push-pull (a join's
   * reply included) stays bounded and push-pull bandwidth does not grow with N.
   */
  pushPullMaxMembers: number;
  /**
   * Carry a digest of this node's membership view in pings and acks, and push-pull with a peer
   * whose view keeps disagreeing (view-sync.ts). Repairs a missed update within a few protocol
   * periods instead of at the next periodic push-pull.
   */
  viewDigest: boolean;
  /** Disagreeing digests in a row, while our own view stays unchanged, before a digest push-pull. */
  viewDigestMismatches: number;
  /**
   * At least this long between two digest-triggered push-pulls of one node (ms); the gap doubles
   * with each one, up to the scaled pushPullInterval, so a disagreement a push-pull cannot settle
   * never storms.
   */
  viewDigestSyncInterval: number;
  /**
   * Set reconciliation (reconcile.ts): a node that has seen a peer's view digest disagree with its
   * own sends that peer its view's bucket sums, and gets back only the members of the buckets that
   * differ (and pushes back its own members there). Needs viewDigest. False sends none.
   */
  reconcile: boolean;
  /** At most one reconciliation per this many ms per node; it backs off (doubling) while they bring nothing. */
  reconcileInterval: number;
  /** Buckets a view is split into: the next power of two at or above live members / this (at most reconcileMaxBuckets). */
  reconcileBucketMembers: number;
  /**
   * The same, for a request that follows an exchange that repaired something (a view still being
   * filled, as in a mass join): finer buckets, so a reply carries the few members missing rather
   * than whole buckets of members the asker holds. Idle disagreements use reconcileBucketMembers.
   */
  reconcileRepairBucketMembers: number;
  /**
   * Most buckets (a power of two, at most 4096); also the resolution every node keeps its bucket
   * sums at. 4096: at 1024, a 5,000-node join's repair requests split the view into buckets of five
   * members, and a reply sent all five for each one missing.
   */
  reconcileMaxBuckets: number;
  /**
   * Most member states one reconciliation reply or push carries. 1024 (about 60 KB, reliable):
   * a node filling its view pulls at most this many members per reconcileInterval, so at 256 a
   * 5,000-node mass join took tens of simulated seconds of exchanges; fewer, larger ones also
   * spread each request's fixed cost (its bucket sums, one walk of the view) over more members.
   */
  reconcileMaxMembers: number;
  /**
   * Transmissions this node gives the first alive it hears of a member it did not know (a join's
   * news), instead of the retransmit limit; a member first learned by reconciliation, or (with
   * reconciliation on) from a push-pull's states other than its sender's own, is not re-gossiped
   * at all. Reconciliation fills what the shorter epidemic misses. 0: the retransmit limit.
   */
  joinRetransmits: number;
  /** Dead and left members are kept this long as tombstones, then forgotten. */
  deadRetention: number;
  /** A node that lost members (or is alone) re-contacts seeds and recently dead members this often. */
  reconnectInterval: number;
  /** Timeout for one join attempt to one seed. */
  joinTimeout: number;
  /** Join retries across all seeds before join() rejects (0 = try each seed once). */
  joinRetries: number;
  /** First retry backoff; doubles per attempt up to joinBackoffMax. */
  joinBackoff: number;
  joinBackoffMax: number;
  /** How long leave() keeps the process up so the leave message spreads. */
  leavePropagateDelay: number;
  /** With a compressor, bodies longer than this many bytes are compressed (when that shrinks them). */
  compressThreshold: number;
  /** With encryption, sealed envelopes stamped further than this from our clock are refused (ms). */
  maxClockSkew: number;
  /** Largest best-effort packet built (the UDP budget). Larger messages go reliable. */
  packetBudget: number;
  /** Application broadcasts: children per node in the eager push tree (and random peers without one). */
  broadcastFanout: number;
  /**
   * Application broadcasts: while the other live members number at most this, the origin pushes
   * to every one of them itself (one hop) instead of down the broadcastFanout-ary tree (0: always
   * the tree). The same number of packets in total; the origin sends all of them.
   */
  broadcastDirectMax: number;
  /** Hop limit of a broadcast; 0 derives it from N: ceil(log2(N+1)) + 4. */
  broadcastHops: number;
  /** Broadcast ids are remembered this long (ms) to drop duplicates; older copies count as stale. */
  broadcastDedupWindow: number;
  /** Default request() timeout, and how long openStream waits for the peer to accept (ms). */
  requestTimeout: number;
  /** Bytes a stream receiver lets the sender have in flight (flow-control window). */
  streamWindowBytes: number;
  /** Largest stream data message (bytes); writes are split into chunks of at most this. */
  streamChunkBytes: number;
  /**
   * Members heard of only from an untrusted source (not a member's or seed's address) are held as
   * candidates until their address answers a ping; at most this many at once (see introductions).
   */
  maxIntroductions: number;
  /** At most this many candidates from one source at once; further ones are dropped (counted). */
  introductionsPerSource: number;
  /** Verification pings to candidates per protocol period (their own budget: never the probe rotation's). */
  introductionProbesPerPeriod: number;
  /** Pings a candidate gets before it is dropped (and not pinged again for deadRetention). */
  introductionAttempts: number;
  /** Window (ms) of the send budget for addresses that never answered (no member or seed there). */
  unansweredWindow: number;
  /** Per window, sends to one such address stop once this many bytes went to it. */
  unansweredBytesPerAddress: number;
  /** Per window, sends to all such addresses together stop once this many bytes went to them. */
  unansweredBytesTotal: number;
  /** Per window, at most this many such addresses are sent to at all. */
  unansweredMaxAddresses: number;
  /** Bounds on inbound data. */
  limits: Limits;
}

export type ProfileName = 'lan' | 'wan' | 'local' | 'fast';

const lan: ProtocolConfig = {
  probeInterval: 1000,
  probeTimeout: 500,
  indirectChecks: 3,
  tcpFallbackPing: true,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  awarenessMaxMultiplier: 8,
  gossipInterval: 200,
  gossipNodes: 3,
  eagerGossipDelay: 2,
  gossipToTheDead: 30_000,
  retransmitMult: 4,
  pushPullInterval: 30_000,
  pushPullMaxMembers: 256,
  viewDigest: true,
  viewDigestMismatches: 3,
  viewDigestSyncInterval: 5_000,
  reconcile: true,
  reconcileInterval: 1_000,
  reconcileBucketMembers: 16,
  reconcileRepairBucketMembers: 1,
  reconcileMaxBuckets: 4096,
  reconcileMaxMembers: 1024,
  joinRetransmits: 2,
  deadRetention: 60_000,
  reconnectInterval: 10_000,
  joinTimeout: 5_000,
  joinRetries: 5,
  joinBackoff: 250,
  joinBackoffMax: 5_000,
  leavePropagateDelay: 100,
  compressThreshold: 256,
  maxClockSkew: 30_000,
  packetBudget: 1400,
  broadcastFanout: 3,
  broadcastDirectMax: 16,
  broadcastHops: 0,
  broadcastDedupWindow: 120_000,
  requestTimeout: 5_000,
  streamWindowBytes: 4 * 1024 * 1024,
  streamChunkBytes: 256 * 1024,
  maxIntroductions: 1024,
  introductionsPerSource: 16,
  introductionProbesPerPeriod: 32,
  introductionAttempts: 3,
  unansweredWindow: 10_000,
  unansweredBytesPerAddress: 16 * 1024,
  unansweredBytesTotal: 256 * 1024,
  unansweredMaxAddresses: 4096,
  limits: defaultLimits,
};

export const profiles: Record<ProfileName, ProtocolConfig> = {
  lan,
  /** Higher latency links: memberlist's WAN profile. */
  wan: {
    ...lan,
    probeInterval: 5000,
    probeTimeout: 3000,
    suspicionMult: 6,
    gossipInterval: 500,
    gossipNodes: 4,
    gossipToTheDead: 60_000,
    pushPullInterval: 60_000,
    viewDigestSyncInterval: 25_000,
    reconcileInterval: 5_000,
    joinTimeout: 10_000,
  },
  /** One host or a very fast network: memberlist's local profile. */
  local: {
    ...lan,
    probeInterval: 1000,
    probeTimeout: 200,
    suspicionMult: 3,
    gossipInterval: 100,
    gossipToTheDead: 15_000,
    pushPullInterval: 15_000,
  },
  /**
   * Fast failure detection on a LAN (detect a crash in about 3 s at N=50) while riding out 10%
   * packet loss: shorter probe period, same fallbacks.
   */
  fast: {
    ...lan,
    probeInterval: 300,
    probeTimeout: 150,
    suspicionMult: 2,
    suspicionMaxTimeoutMult: 4,
    gossipInterval: 100,
    viewDigestSyncInterval: 1_500,
  },
};

export function resolveConfig(profile: ProfileName | undefined, overrides: Partial<ProtocolConfig> | undefined): ProtocolConfig {
  const base = profiles[profile ?? 'lan'];
  if (!base) throw new GrapevineError('ERR_INVALID_OPTION', `unknown profile "${String(profile)}" (lan, wan, local, fast)`);
  const cfg: ProtocolConfig = { ...base, ...(overrides ?? {}), limits: { ...base.limits, ...(overrides?.limits ?? {}) } };
  validateConfig(cfg);
  return cfg;
}

function validateConfig(cfg: ProtocolConfig): void {
  const positive: (keyof ProtocolConfig)[] = [
    'probeInterval', 'probeTimeout', 'suspicionMult', 'suspicionMaxTimeoutMult', 'awarenessMaxMultiplier',
    'gossipInterval', 'retransmitMult', 'joinTimeout', 'packetBudget', 'maxClockSkew',
    'broadcastFanout', 'broadcastDedupWindow', 'requestTimeout', 'streamWindowBytes', 'streamChunkBytes',
    'maxIntroductions', 'introductionsPerSource', 'introductionProbesPerPeriod', 'introductionAttempts',
    'unansweredWindow', 'unansweredBytesPerAddress', 'unansweredBytesTotal', 'unansweredMaxAddresses',
    'viewDigestSyncInterval', 'reconcileInterval', 'reconcileBucketMembers', 'reconcileRepairBucketMembers',
  ];
  for (const k of positive) {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new GrapevineError('ERR_INVALID_OPTION', `option ${k} must be a positive number, got ${String(v)}`);
    }
  }
  const nonNegative: (keyof ProtocolConfig)[] = [
    'indirectChecks', 'gossipNodes', 'eagerGossipDelay', 'gossipToTheDead', 'pushPullInterval', 'deadRetention',
    'reconnectInterval', 'joinRetries', 'joinBackoff', 'joinBackoffMax', 'leavePropagateDelay', 'compressThreshold',
    'broadcastHops', 'joinRetransmits', 'broadcastDirectMax',
  ];
  for (const k of nonNegative) {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new GrapevineError('ERR_INVALID_OPTION', `option ${k} must be a non-negative number, got ${String(v)}`);
    }
  }
  if (!Number.isInteger(cfg.pushPullMaxMembers) || cfg.pushPullMaxMembers < 2) {
    throw new GrapevineError('ERR_INVALID_OPTION', `option pushPullMaxMembers must be an integer of at least 2, got ${String(cfg.pushPullMaxMembers)}`);
  }
  if (typeof cfg.viewDigest !== 'boolean') {
    throw new GrapevineError('ERR_INVALID_OPTION', `option viewDigest must be true or false, got ${String(cfg.viewDigest)}`);
  }
  if (!Number.isInteger(cfg.viewDigestMismatches) || cfg.viewDigestMismatches < 1) {
    throw new GrapevineError('ERR_INVALID_OPTION', `option viewDigestMismatches must be a positive integer, got ${String(cfg.viewDigestMismatches)}`);
  }
  if (typeof cfg.reconcile !== 'boolean') {
    throw new GrapevineError('ERR_INVALID_OPTION', `option reconcile must be true or false, got ${String(cfg.reconcile)}`);
  }
  if (!isBucketCount(cfg.reconcileMaxBuckets)) {
    throw new GrapevineError('ERR_INVALID_OPTION', `option reconcileMaxBuckets must be a power of two from 1 to ${MAX_DIGEST_BUCKETS}, got ${String(cfg.reconcileMaxBuckets)}`);
  }
  if (!Number.isInteger(cfg.reconcileMaxMembers) || cfg.reconcileMaxMembers < 1) {
    throw new GrapevineError('ERR_INVALID_OPTION', `option reconcileMaxMembers must be a positive integer, got ${String(cfg.reconcileMaxMembers)}`);
  }
  if (!Number.isInteger(cfg.joinRetransmits)) {
    throw new GrapevineError('ERR_INVALID_OPTION', `option joinRetransmits must be an integer, got ${String(cfg.joinRetransmits)}`);
  }
  if (cfg.probeTimeout >= cfg.probeInterval) {
    throw new GrapevineError('ERR_INVALID_OPTION', 'probeTimeout must be shorter than probeInterval');
  }
  if (cfg.streamChunkBytes > cfg.limits.maxFrameBytes - 1024) {
    throw new GrapevineError('ERR_INVALID_OPTION', 'streamChunkBytes must leave room for framing below limits.maxFrameBytes');
  }
  if (cfg.packetBudget < 256) throw new GrapevineError('ERR_INVALID_OPTION', 'packetBudget must be at least 256 bytes');
  for (const [k, v] of Object.entries(cfg.limits)) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new GrapevineError('ERR_INVALID_OPTION', `limit ${k} must be a positive integer, got ${String(v)}`);
    }
  }
  if (cfg.limits.maxIncarnation > MAX_INCARNATION_CEILING) {
    throw new GrapevineError('ERR_INVALID_OPTION', `limit maxIncarnation must be at most ${MAX_INCARNATION_CEILING} (2^53 - 2), so one above it is still exact`);
  }
}
