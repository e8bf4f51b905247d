/**
 * View sync: find a membership divergence within a few protocol periods and repair it with one
 * push-pull, instead of leaving it to the periodic push-pull (30 s or more: long enough for a node
 * to miss a joiner, route around it, or declare a refuted member dead).
 *
 * Every ping and ack carries its sender's view digest (view-digest.ts). When a packet has been
 * processed (its piggybacked updates applied first, since the digest was taken after the sender
 * applied them), the receiver compares the sender's digest with its own:
 *
 * - equal: the streak of disagreements ends;
 * - different: the streak grows, but only while our own digest stays the same. If ours moved since
 *   the streak began, news is still reaching us and the difference may be news still in flight
 *   (eager gossip delivers most of it within milliseconds), so the streak starts again.
 *
 * After `viewDigestMismatches` disagreements in a row — with whichever peers we happened to
 * exchange with — the node push-pulls with the live member that showed the last one. The node that
 * diverges from the rest disagrees with every peer, so it is the one that notices first; a node
 * whose view is right sees a disagreement only when it talks to the diverging one, and the next
 * match ends its streak.
 *
 * Rate limit: at most one digest-triggered push-pull per `viewDigestSyncInterval`, and the gap
 * doubles with each one up to the (scaled) periodic push-pull interval. A disagreement that a
 * push-pull cannot settle — e.g. a member one side's compatibility hook refuses during a rolling
 * upgrade — therefore costs no more than the periodic push-pull after a few rounds, and cannot
 * make a node storm. The gap starts again from `viewDigestSyncInterval` once the node has gone
 * twice the current gap without a trigger.
 *
 * A push-pull goes only to a member we hold as alive, at the address we hold for it: a ping that
 * names an unknown sender (or a forged one) can make us count a disagreement, never send our
 * table to an address of its choosing.
 */
import type { ProtocolConfig } from '../config.js';
import type { Membership } from './membership.js';
import type { Message } from './messages.js';
import type { NodeEnv } from './node-env.js';
import { pushPullScale } from './push-pull.js';
import type { ViewDigest } from './view-digest.js';

export class ViewSync {
  private streak = 0;
  /** Our digest when the current streak began. */
  private streakBase = -1;
  /** Earliest time of the next digest-triggered push-pull. */
  private nextAllowed = -Infinity;
  private lastSync = -Infinity;
  private gap: number;
  /** The last disagreeing sender seen in the packet being processed (compared when it is done). */
  private pendingName: string | undefined;
  private pendingDigest = 0;
  /** Told of every disagreeing peer (reconcile.ts pulls from the last one). */
  onMismatch: ((from: string) => void) | undefined;

  constructor(
    private readonly env: NodeEnv,
    private readonly cfg: ProtocolConfig,
    private readonly members: Membership,
    private readonly digest: ViewDigest,
    /** Starts a push-pull with an address (the node's own push-pull, errors counted there). */
    private readonly sync: (address: string, name: string) => void,
  ) {
    this.gap = cfg.viewDigestSyncInterval;
  }

  /**
   * An outgoing ping or ack with our digest added (and, on an ack, our name: an ack names no
   * sender, and one relayed by a ping-req helper carries the helper's view, not the target's).
   * Other messages, and everything when the feature is off, go as they are.
   */
  stamp(msg: Message): Message {
    if (!this.cfg.viewDigest) return msg;
    if (msg.k === 1) return { ...msg, digest: this.digest.value };
    if (msg.k === 3) return { ...msg, digest: this.digest.value, from: this.members.self.name };
    return msg;
  }

  /**
   * A ping or ack from `from` carried `digest`. Held until the packet's other parts are applied
   * (settle()), because the sender took its digest after applying what it piggybacked.
   */
  observe(from: string, digest: number | undefined): void {
    if (digest === undefined || !this.cfg.viewDigest || from === this.members.self.name) return;
    this.pendingName = from;
    this.pendingDigest = digest;
  }

  /** End of one inbound packet: compare what it carried. O(1). */
  settle(): void {
    const from = this.pendingName;
    if (from === undefined) return;
    this.pendingName = undefined;
    const mine = this.digest.value;
    const m = this.env.metrics;
    if (this.pendingDigest === mine) {
      this.streak = 0;
      return;
    }
    m.increment('grapevine.view-digest.mismatch');
    this.onMismatch?.(from);
    if (mine !== this.streakBase) {
      this.streakBase = mine;
      this.streak = 0;
    }
    this.streak++;
    if (this.streak < this.cfg.viewDigestMismatches) return;
    const peer = this.members.get(from);
    if (!peer || peer === this.members.self || peer.state !== 'alive') return;
    const now = this.env.clock.now();
    if (now < this.nextAllowed) {
      m.increment('grapevine.view-digest.rate-limited');
      return;
    }
    const cap = Math.max(this.cfg.viewDigestSyncInterval, this.cfg.pushPullInterval > 0
      ? pushPullScale(this.cfg.pushPullInterval, this.members.liveCount())
      : this.cfg.viewDigestSyncInterval);
    if (now - this.lastSync > 2 * this.gap) this.gap = this.cfg.viewDigestSyncInterval;
    this.lastSync = now;
    this.nextAllowed = now + this.gap;
    this.gap = Math.min(this.gap * 2, cap);
    this.streak = 0;
    m.increment('grapevine.view-digest.sync');
    this.env.logger.debug({ member: from, ours: mine, theirs: this.pendingDigest }, 'views disagree; push-pull');
    this.sync(peer.address, from);
  }
}
