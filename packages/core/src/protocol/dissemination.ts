/**
 * Dissemination of membership news: updates enter the piggyback queue (broadcast-queue.ts) and go
 * out on the gossip tick and, sooner, in eager rounds, to gossipNodes random members at a time
 * (and to the recently dead, so a falsely dead node hears and refutes).
 */
import type { ProtocolConfig } from '../config.js';
import type { TimerHandle } from '../clock.js';
import type { BroadcastQueue } from './broadcast-queue.js';
import { sampleFrom } from './indexed-set.js';
import type { MemberRecord, Membership } from './membership.js';
import type { Alive, Dead, Suspect } from './messages.js';
import type { NodeEnv } from './node-env.js';
import type { Outbox } from './outbox.js';
import type { ViewDigest } from './view-digest.js';

export interface DisseminationParts {
  readonly env: NodeEnv;
  readonly cfg: ProtocolConfig;
  readonly members: Membership;
  readonly queue: BroadcastQueue;
  readonly outbox: Outbox;
  readonly viewDigest: ViewDigest;
  /** Entries waiting in the application queue (they ride the same gossip packets). */
  userQueued(): number;
  /** A timer of the node's group (cancelled when the node stops). */
  timer(fn: () => void, ms: number): TimerHandle;
  /** Whether the node runs (started and not stopped): eager rounds only then. */
  running(): boolean;
}

export class Dissemination {
  private eagerPending = false;

  constructor(private readonly p: DisseminationParts) {}

  /** Anything waiting in either dissemination queue. */
  get queued(): number {
    return this.p.queue.size + this.p.userQueued();
  }

  /**
   * Queue news about `name` (the table changed: the digest follows) and gossip it soon, at most
   * `max` times when given (a join's news: fewer than the retransmit limit, see reconcile.ts).
   */
  disseminate(name: string, msg: Alive | Suspect | Dead, max?: number): void {
    const p = this.p;
    p.viewDigest.update(name, p.members.digestView(name));
    p.queue.enqueue(name, p.outbox.encode(msg), undefined, max);
    this.scheduleEagerGossip();
  }

  /** The table changed but the news is not gossiped on (learned by reconciliation): the digest follows. */
  note(name: string): void {
    this.p.viewDigest.update(name, this.p.members.digestView(name));
  }

  /**
   * New updates go out within eagerGossipDelay instead of waiting for the next gossip tick, and
   * follow-up rounds spend the rest of their retransmit budget at a doubling spacing until it
   * reaches the regular tick. The number of transmissions is the same as tick-paced gossip; they
   * just happen in milliseconds rather than in several gossip intervals.
   */
  scheduleEagerGossip(): void {
    const cfg = this.p.cfg;
    if (this.eagerPending || cfg.eagerGossipDelay <= 0 || !this.p.running()) return;
    this.eagerPending = true;
    let spacing = cfg.eagerGossipDelay;
    const round = (): void => {
      this.gossip();
      spacing *= 2;
      if (this.queued > 0 && spacing < cfg.gossipInterval) {
        this.p.timer(round, spacing);
      } else {
        this.eagerPending = false;
      }
    };
    this.p.timer(round, spacing);
  }

  /**
   * gossipNodes random members gossip goes to: live ones, and recently dead ones so a falsely dead
   * node hears and refutes. Sampled from the live and dead sets, not found by a walk of the table.
   */
  private gossipTargets(): MemberRecord[] {
    const { env, cfg, members } = this.p;
    const now = env.clock.now();
    const self = members.self;
    return sampleFrom(env.random, [members.live, members.dead], cfg.gossipNodes, (r) =>
      r !== self && (r.state !== 'dead' || now - r.stateChangedAt < cfg.gossipToTheDead));
  }

  /** One gossip round: a packet of queued news to each target, while there is news left. */
  gossip(): void {
    if (this.queued === 0) return;
    for (const t of this.gossipTargets()) {
      if (!this.p.outbox.gossip(t.address)) break;
    }
  }
}
