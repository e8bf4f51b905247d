/**
 * Set reconciliation: repair a view by pulling only what differs. Push gossip alone needs every
 * node to hear every fact about ln(N²) times before the last pairs are covered, so a mass join
 * costs N² × ln(N²) copies received. Pulling the holes instead lets the join's push epidemic be
 * short (joinRetransmits) and fills what it missed once per missing member.
 *
 * How: both nodes keep their view digest split into buckets by the top bits of each live member's
 * contribution (view-digest.ts), each bucket's sum updated in O(1) beside the whole-view sum. A
 * node that has seen a peer's digest disagree with its own (a ping or ack, view-sync.ts) sends that
 * peer a request with its bucket sums, at most once per reconcileInterval. The peer compares them
 * with its own (folding them to its coarser resolution if it keeps fewer buckets), picks differing
 * buckets at random until their expected members fill reconcileMaxMembers, and answers with its
 * live members in those buckets and its sums for them. The requester merges the members; where a
 * bucket still differs afterwards it holds something the peer lacks (or something newer), and it
 * pushes its own members of those buckets back, unanswered. So one exchange repairs both sides.
 *
 * Members first heard of through reconciliation are not gossiped on: by the time a node pulls a
 * member, most nodes hold it, and those that do not pull it too. That, with the short push
 * budget, is what removes the copies (docs/scale.md measures it). Refutations, deaths and
 * metadata changes learned this way go out as usual. While reconciliation runs, the same holds
 * for members first heard of in a push-pull's states other than the sender's own (push-pull.ts,
 * `quietStates`): a join's reply of 256 members re-gossiped by every joiner was most of a mass
 * join's gossip, nearly all of it copies its receivers held (docs/scale.md).
 *
 * Bounds and trust: a request is answered only to a member's or seed's address; a reply is merged
 * only when it matches the one request in flight; every count is checked by parseMessage; the
 * interval doubles (up to the scaled push-pull interval) while exchanges bring nothing, so a
 * disagreement no exchange can settle (a member one side refuses) costs little.
 */
import type { ProtocolConfig } from '../config.js';
import type { InboundInfo } from '../transport.js';
import type { Introducer } from './introductions.js';
import type { Membership } from './membership.js';
import type { NodeState, Reconcile, ReconcilePush, ReconcileReply, Message } from './messages.js';
import type { NodeEnv } from './node-env.js';
import type { Outbox } from './outbox.js';
import { pushPullScale } from './push-pull.js';
import { foldSums, type ViewDigest } from './view-digest.js';

export interface ReconcileParts {
  readonly env: NodeEnv;
  readonly cfg: ProtocolConfig;
  readonly members: Membership;
  readonly digest: ViewDigest;
  readonly outbox: Outbox;
  /** A member's or seed's address. */
  trusted(addr: string): boolean;
  /** Merge states a peer sent (PushPullExchange.mergeStates). */
  merge(from: string, states: readonly NodeState[], via: Introducer | undefined): void;
}

interface InFlight {
  seq: number;
  addr: string;
  sentAt: number;
}

/** The bucket count for `live` members: the next power of two ≥ live / perBucket, within [1, max]. */
export function reconcileBuckets(live: number, perBucket: number, max: number): number {
  let b = 1;
  const want = Math.ceil(live / perBucket);
  while (b < want && b < max) b *= 2;
  return b;
}

export class Reconciler {
  private seq = 0;
  private inFlight: InFlight | undefined;
  /** The last peer whose digest disagreed with ours since our last request. */
  private candidate: string | undefined;
  private gap: number;
  private nextAt = -Infinity;
  private lastAt = -Infinity;
  /** The last exchange repaired our view: the next request asks at the finer resolution. */
  private repairing = false;
  /** True while a reconciliation's states are merged: members new to us are then not re-gossiped. */
  merging = false;

  constructor(private readonly p: ReconcileParts) {
    this.gap = p.cfg.reconcileInterval;
  }

  private get enabled(): boolean {
    return this.p.cfg.reconcile && this.p.cfg.viewDigest;
  }

  /**
   * Whether reconciliation is handling our disagreements: on, and its last exchange was not one
   * that brought nothing (it backs off then). While it is, a digest push-pull (a random sample of
   * a whole table, mostly members we hold) is left out; once it stalls — a death or a refused
   * member, which it cannot carry — the digest push-pull runs as before.
   */
  handling(): boolean {
    return this.enabled && this.gap <= this.p.cfg.reconcileInterval;
  }

  /** A ping or ack from `name` carried a digest other than ours (view-sync.ts). */
  noteMismatch(name: string): void {
    if (this.enabled) this.candidate = name;
  }

  /**
   * A disagreement with `name` has lasted (view-sync's streak): reconcile with it now rather than
   * at the next tick, within the same rate limit.
   */
  urge(name: string): void {
    this.noteMismatch(name);
    this.tick();
  }

  /** Every reconcileInterval: one request to the last disagreeing peer, if any and not backing off. */
  tick(): void {
    if (!this.enabled) return;
    const { env, cfg, members } = this.p;
    const now = env.clock.now();
    if (this.inFlight) {
      if (now - this.inFlight.sentAt < 3 * cfg.reconcileInterval) return;
      env.metrics.increment('grapevine.reconcile.timeout');
      this.inFlight = undefined;
      this.backOff();
    }
    const name = this.candidate;
    if (name === undefined) return;
    // Quiet for twice the gap: the disagreement that made us back off is over; start afresh.
    if (now - this.lastAt > 2 * this.gap) {
      this.gap = cfg.reconcileInterval;
      this.nextAt = -Infinity;
    }
    if (now < this.nextAt) return;
    this.candidate = undefined;
    const peer = members.get(name);
    if (!peer || peer.state !== 'alive' || name === members.self.name) return;
    this.request(peer.address, now);
  }

  private request(addr: string, now: number): void {
    const { cfg, digest, members } = this.p;
    // While exchanges repair (a view still filling), ask at the finer resolution: with about one
    // member per bucket a reply carries little beyond what is missing, where 16 per bucket sent
    // whole buckets mostly held (N=1,000 mass join: 339 thousand reply states instead of 766).
    // An idle disagreement asks coarsely first: a request's size is its bucket count.
    const per = this.repairing ? cfg.reconcileRepairBucketMembers : cfg.reconcileBucketMembers;
    const b = reconcileBuckets(digest.size, per, Math.min(cfg.reconcileMaxBuckets, digest.leafCount));
    this.seq = (this.seq + 1) % 0x7fffffff;
    const self = members.self;
    const msg: Reconcile = { k: 10, seq: this.seq, from: self.name, fromAddr: self.address, b, sums: Array.from(digest.bucketSums(b)) };
    this.inFlight = { seq: this.seq, addr, sentAt: now };
    this.nextAt = now + this.gap;
    this.lastAt = now;
    this.p.env.metrics.increment('grapevine.reconcile.requests');
    this.send(addr, msg);
  }

  private send(addr: string, msg: Message): void {
    const { env, outbox } = this.p;
    const part = outbox.encode(msg);
    env.metrics.increment('grapevine.reconcile.bytes-sent', part.length);
    if (outbox.fitsPacket(part)) outbox.sendPart(addr, part);
    else outbox.sendPartReliable(addr, part).catch(() => env.metrics.increment('grapevine.reconcile.send-failed'));
  }

  /** A peer's bucket sums: answer with our members of (some of) the buckets that differ. */
  onRequest(msg: Reconcile): void {
    const { env, cfg, digest, members } = this.p;
    if (!this.enabled) return;
    if (msg.from === members.self.name || !this.p.trusted(msg.fromAddr)) {
      env.metrics.increment('grapevine.drop.reconcile-untrusted');
      return;
    }
    const b = Math.min(msg.b, digest.leafCount);
    const theirs = msg.b === b ? msg.sums : foldSums(msg.sums, b);
    const mine = digest.bucketSums(b);
    const diff: number[] = [];
    for (let i = 0; i < b; i++) if (mine[i] !== theirs[i]) diff.push(i);
    // Differing buckets at random until their expected members fill one reply, so repeated
    // requests make progress on a large difference instead of returning the same members.
    const perBucket = Math.max(1, digest.size / b);
    const want = Math.min(diff.length, Math.max(1, Math.floor(cfg.reconcileMaxMembers / perBucket)));
    for (let i = 0; i < want; i++) {
      const j = i + Math.floor(env.random.next() * (diff.length - i));
      const t = diff[i]!;
      diff[i] = diff[j]!;
      diff[j] = t;
    }
    diff.length = want;
    const { states, whole } = this.wholeBuckets(b, diff);
    env.metrics.increment('grapevine.reconcile.answered');
    env.metrics.increment('grapevine.reconcile.states-sent', states.length);
    const reply: ReconcileReply = { k: 11, seq: msg.seq, from: members.self.name, b, buckets: whole, sums: whole.map((i) => mine[i]!), states };
    this.send(msg.fromAddr, reply);
  }

  /**
   * Our live members in the chosen buckets (of b), whole buckets only, in the order chosen, until
   * the next would pass reconcileMaxMembers; `whole` lists the buckets sent complete. A reply
   * names only those: a bucket cut short would still differ at the asker, which would then push
   * back its whole bucket, members we hold (measured: most of a mass join's pushes were that).
   * A single bucket over the cap is sent cut to the cap and not named.
   */
  private wholeBuckets(b: number, buckets: readonly number[]): { states: NodeState[]; whole: number[] } {
    const states: NodeState[] = [];
    const whole: number[] = [];
    if (buckets.length === 0) return { states, whole };
    const { cfg, digest, members } = this.p;
    const flagged = new Uint8Array(b);
    for (const i of buckets) flagged[i] = 1;
    const names = new Map<number, string[]>();
    digest.forEachIn(b, flagged, (name, bucket) => {
      const list = names.get(bucket);
      if (list) list.push(name);
      else names.set(bucket, [name]);
      return true;
    });
    const max = cfg.reconcileMaxMembers;
    for (const i of buckets) {
      const list = names.get(i) ?? [];
      const fits = states.length + list.length <= max;
      if (!fits && states.length > 0) continue;
      for (const name of list) {
        if (states.length >= max) break;
        const s = members.stateOf(name);
        if (s) states.push(s);
      }
      if (fits) whole.push(i);
    }
    return { states, whole };
  }

  /** Our live members in the given buckets (of b), at most reconcileMaxMembers. */
  private statesIn(b: number, buckets: readonly number[]): NodeState[] {
    const out: NodeState[] = [];
    if (buckets.length === 0) return out;
    const { cfg, digest, members } = this.p;
    const flagged = new Uint8Array(b);
    for (const i of buckets) flagged[i] = 1;
    digest.forEachIn(b, flagged, (name) => {
      const s = members.stateOf(name);
      if (s) out.push(s);
      return out.length < cfg.reconcileMaxMembers;
    });
    return out;
  }

  /** The answer to our request: merge it, then push back what we hold that the peer lacks. */
  onReply(msg: ReconcileReply, info: InboundInfo): void {
    const { env, digest, members } = this.p;
    const f = this.inFlight;
    if (!f || f.seq !== msg.seq || (info.from !== f.addr && !this.p.trusted(info.from))) {
      env.metrics.increment('grapevine.drop.reconcile-unexpected');
      return;
    }
    this.inFlight = undefined;
    const before = digest.value;
    this.mergeQuietly(msg.from, msg.states, undefined);
    if (msg.buckets.length > 0 && msg.b <= digest.leafCount) {
      const mine = digest.bucketSums(msg.b);
      const still = msg.buckets.filter((i, j) => mine[i] !== msg.sums[j]);
      const states = this.statesIn(msg.b, still);
      if (states.length > 0) {
        env.metrics.increment('grapevine.reconcile.pushed', states.length);
        const push: ReconcilePush = { k: 12, from: members.self.name, states };
        this.send(f.addr, push);
      }
    }
    if (digest.value !== before) {
      env.metrics.increment('grapevine.reconcile.repaired');
      this.repairing = true;
      this.gap = this.p.cfg.reconcileInterval;
      this.nextAt = -Infinity;
    } else {
      this.backOff();
    }
  }

  /** Members a peer pushed back after our answer. */
  onPush(msg: ReconcilePush, info: InboundInfo): void {
    if (!this.enabled || msg.from === this.p.members.self.name) return;
    this.mergeQuietly(msg.from, msg.states, { key: info.from, trusted: this.p.trusted(info.from) });
  }

  private mergeQuietly(from: string, states: readonly NodeState[], via: Introducer | undefined): void {
    this.merging = true;
    try {
      this.p.merge(from, states, via);
    } finally {
      this.merging = false;
    }
  }

  /** An exchange that changed nothing: wait twice as long before the next, up to the push-pull interval. */
  private backOff(): void {
    const { cfg, env, members } = this.p;
    this.repairing = false;
    const cap = Math.max(cfg.reconcileInterval, cfg.pushPullInterval > 0 ? pushPullScale(cfg.pushPullInterval, members.liveCount()) : cfg.reconcileInterval);
    this.gap = Math.min(this.gap * 2, cap);
    this.nextAt = env.clock.now() + this.gap;
  }
}
