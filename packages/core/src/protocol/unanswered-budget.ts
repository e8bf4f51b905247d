/**
 * What this node may send, per time window, to addresses that never answered: addresses that are
 * neither a member's nor a seed's. Those are the addresses an outsider can make a node send to
 * without being a member: the `fromAddr` of a forged ping, ping-req or push-pull, the target of a
 * forged ping-req, a candidate introduction (see introductions.ts). Without a cap, an attacker's
 * small packet to every node would turn into replies at an address of its choosing.
 *
 * Per window of `unansweredWindow` ms, at most `unansweredBytesPerAddress` bytes go to one such
 * address and at most `unansweredBytesTotal` to all of them together, and at most
 * `unansweredMaxAddresses` of them are sent to at all; a message that would pass a bound is not
 * sent, and counted (`grapevine.send.unanswered-capped`). Members' and seeds' addresses are not
 * limited here. The largest legitimate message to a stranger, a push-pull reply to a joiner, is
 * sent only after the joiner's address answered a ping (see push-pull.ts), when it is a member.
 */
import type { Clock } from '../clock.js';

export interface UnansweredBudgetOptions {
  readonly window: number;
  readonly perAddress: number;
  readonly total: number;
  readonly maxAddresses: number;
}

export class UnansweredBudget {
  private windowStart: number;
  private readonly used = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly opts: UnansweredBudgetOptions,
    private readonly clock: Clock,
    /** True for an address that has answered (a member's) or that the operator gave (a seed). */
    private readonly answers: (addr: string) => boolean,
    private readonly onRefused: () => void,
  ) {
    this.windowStart = clock.now();
  }

  /** May `bytes` go to `to` now? Counts them when they may. */
  allow(to: string, bytes: number): boolean {
    if (this.answers(to)) return true;
    const now = this.clock.now();
    if (now - this.windowStart >= this.opts.window) {
      this.windowStart = now;
      this.used.clear();
      this.total = 0;
    }
    const used = this.used.get(to);
    if ((used === undefined && this.used.size >= this.opts.maxAddresses) || (used ?? 0) + bytes > this.opts.perAddress || this.total + bytes > this.opts.total) {
      this.onRefused();
      return false;
    }
    this.used.set(to, (used ?? 0) + bytes);
    this.total += bytes;
    return true;
  }

  /** Bytes sent to `to` in the current window (for tests and metrics). */
  usedBy(to: string): number {
    return this.used.get(to) ?? 0;
  }
}
