/**
 * Anti-entropy: two nodes swap their membership tables over the reliable path. Join is a
 * push-pull with a seed; a periodic one repairs anything gossip missed; a reconnect one heals
 * partitions by reaching members we believe dead.
 *
 * A table of more than `maxStates` records (the pushPullMaxMembers option) is not sent whole: each
 * push-pull carries our own state and a fresh random sample of the others, so a message stays
 * bounded whatever N is, and successive exchanges cover the whole table (a record is in a given
 * one with probability maxStates/N). Joiners learn the rest from gossip, which carries every
 * join anyway. Receivers need no change: a sample is merged like a whole table.
 */
import type { TimerHandle } from '../clock.js';
import { GrapevineError } from '../errors.js';
import type { InboundInfo } from '../transport.js';
import type { Introducer } from './introductions.js';
import type { MemberRecord, Membership } from './membership.js';
import type { NodeState, PushPull } from './messages.js';
import type { NodeEnv } from './node-env.js';
import type { Outbox } from './outbox.js';
import type { VersionGate } from './versions.js';

interface PendingExchange {
  resolve(states: number): void;
  reject(err: Error): void;
  timer: TimerHandle;
}

/** memberlist's scaling: the interval grows with log2(N) past 32 nodes, so total load stays flat. */
export function pushPullScale(interval: number, n: number): number {
  const threshold = 32;
  if (n <= threshold) return interval;
  return interval * (Math.ceil(Math.log2(n) - Math.log2(threshold)) + 1);
}

export class PushPullExchange {
  private readonly pending = new Map<number, PendingExchange>();
  private seq = 0;
  /**
   * A received state that would change nothing here (the node holds that very alive news):
   * skipped before the merge builds a message of it. Unset: every state is merged.
   */
  skipHeld: ((s: NodeState) => boolean) | undefined;
  /**
   * Whether members first heard of in a push-pull's states (other than the sender's own) are
   * kept from gossip, as reconciliation's are (set when reconciliation runs: it pulls what such
   * quiet learning leaves out). `merging` is true while such a state is applied.
   */
  quietStates = false;
  merging = false;

  constructor(
    private readonly env: NodeEnv,
    private readonly members: Membership,
    private readonly outbox: Outbox,
    private readonly timeout: () => number,
    private readonly versions: VersionGate,
    /** Whether a source address is a member's or seed's (its news is applied without verification). */
    private readonly trustedSource: (addr: string) => boolean = () => true,
    /** Ping `addr` for `name` (a verification ping); reports whether it answered. */
    private readonly verify?: (name: string, addr: string, done: (answered: boolean) => void) => void,
    /** Most states one push-pull carries (pushPullMaxMembers); more members → a random sample. */
    private readonly maxStates = Infinity,
  ) {}

  /** Our table, or when it has more than maxStates records, ourselves and a random sample of the rest. */
  localStates(): NodeState[] {
    const m = this.members;
    if (m.records.size <= this.maxStates) return m.allStates();
    this.env.metrics.increment('grapevine.pushpull.sampled');
    const out = m.sampleStates(this.env.random, this.maxStates - 1);
    out.unshift(m.selfState());
    return out;
  }

  /** Push-pulls go over the reliable path alone in their envelope; their bytes are counted. */
  private send(addr: string, msg: PushPull): Promise<void> {
    const part = this.outbox.encode(msg);
    this.env.metrics.increment('grapevine.pushpull.bytes-sent', part.length);
    return this.outbox.sendPartReliable(addr, part);
  }

  /** Exchange state with `addr`; resolves with the number of states received. */
  exchange(addr: string, join: boolean): Promise<number> {
    const self = this.members.self;
    this.seq = (this.seq + 1) % 0x7fffffff;
    const seq = this.seq;
    const msg: PushPull = { k: 8, seq, join, reply: false, from: self.name, fromAddr: self.address, states: this.localStates(), proto: self.protocol, app: self.appVersion };
    const ms = this.timeout();
    return new Promise<number>((resolve, reject) => {
      const timer = this.env.clock.setTimer(() => {
        this.pending.delete(seq);
        reject(new GrapevineError('ERR_TIMEOUT', `no answer from ${addr} within ${ms} ms (push-pull)`));
      }, ms);
      this.pending.set(seq, { resolve, reject, timer });
      this.send(addr, msg).catch((err: unknown) => {
        const p = this.pending.get(seq);
        if (!p) return;
        this.pending.delete(seq);
        p.timer.cancel();
        // A transport that knows why (an HTTP 404 or 401 from a WebSocket seed) keeps its code.
        if (err instanceof GrapevineError && (err.code === 'ERR_WRONG_PATH' || err.code === 'ERR_UNAUTHORIZED')) reject(err);
        else reject(new GrapevineError('ERR_UNREACHABLE', `cannot reach ${addr}: ${reasonOf(err)}`, { cause: err }));
      });
    });
  }

  /**
   * A reply to our own request is trusted: we chose the address, and it answered. A push-pull we
   * did not ask for is trusted only when it comes from a member's or seed's address; otherwise
   * the members it names are introductions to verify (see introductions.ts).
   */
  onPushPull(pp: PushPull, info?: InboundInfo): void {
    const self = this.members.self;
    const from = info?.from ?? pp.fromAddr;
    const taken = !pp.reply && pp.join ? this.nameTaken(pp) : null;
    const refusal = pp.refusal ?? taken ?? this.versions.check(pp.from, pp.proto ?? 1, pp.app ?? '');
    if (pp.reply) {
      const p = this.pending.get(pp.seq);
      if (refusal === null) this.merge(pp, p ? undefined : { key: from, trusted: this.trustedSource(from) });
      if (!p) return;
      this.pending.delete(pp.seq);
      p.timer.cancel();
      if (refusal !== null) p.reject(new GrapevineError(pp.refusalCode === 'name-taken' ? 'ERR_NAME_TAKEN' : 'ERR_INCOMPATIBLE', `${pp.from}: ${refusal}`));
      else p.resolve(pp.states.length);
      return;
    }
    if (refusal !== null) {
      // Tell the node why, so its join fails with the reason instead of timing out.
      const no: PushPull = {
        k: 8, seq: pp.seq, join: pp.join, reply: true, from: self.name, fromAddr: self.address, states: [], proto: self.protocol, app: self.appVersion, refusal,
        ...(taken !== null ? { refusalCode: 'name-taken' as const } : {}),
      };
      this.send(pp.fromAddr, no).catch(() => undefined);
      return;
    }
    const trusted = this.trustedSource(from);
    this.merge(pp, { key: from, trusted });
    const answer = (): void => {
      const reply: PushPull = { k: 8, seq: pp.seq, join: pp.join, reply: true, from: self.name, fromAddr: self.address, states: this.localStates(), proto: self.protocol, app: self.appVersion };
      this.send(pp.fromAddr, reply).catch(() => this.env.metrics.increment('grapevine.pushpull.reply-failed'));
    };
    if (trusted || this.trustedSource(pp.fromAddr) || !this.verify) return answer();
    // Our whole table is the largest thing we send. To an address that is not a member's, it goes
    // only once that address has answered a ping for the sender's name: otherwise one forged
    // push-pull would send our table to any address the forger names. The sender's own state is
    // then admitted (its address answered), so the reply is not held to the unanswered budget.
    this.env.metrics.increment('grapevine.pushpull.verify-first');
    this.verify(pp.from, pp.fromAddr, (answered) => {
      if (!answered) {
        this.env.metrics.increment('grapevine.pushpull.unanswered');
        return;
      }
      const own = pp.states.find((s) => s.name === pp.from && s.addr === pp.fromAddr && s.state === 'alive');
      if (own) this.members.onAlive({ k: 5, name: own.name, addr: own.addr, inc: own.inc, inst: own.inst, metaVer: own.metaVer, meta: own.meta, proto: own.proto ?? 1, app: own.app ?? '' });
      answer();
    });
  }

  /**
   * A join from another process under this node's own name, from another address: this node is
   * alive and answering, so the name is taken (two agents started with the same --name, or both
   * defaulting to the host name). A restart of this node cannot be the sender: it would hold our
   * address. The joiner is refused with the reason rather than allowed to push us aside.
   */
  private nameTaken(pp: PushPull): string | null {
    const self = this.members.self;
    if (pp.from !== self.name || pp.fromAddr === self.address) return null;
    const theirs = pp.states.find((s) => s.name === pp.from);
    if (theirs !== undefined && theirs.inst === self.instance) return null;
    this.env.metrics.increment('grapevine.pushpull.name-taken');
    return `the name ${JSON.stringify(self.name)} is taken by a live node at ${self.address}: give this node another name (--name, option name)`;
  }

  private merge(pp: PushPull, via: Introducer | undefined): void {
    this.mergeStates(pp.from, pp.states, via);
  }

  /**
   * Merge member states `from` sent (a push-pull's, or a reconciliation's: reconcile.ts). From an
   * untrusted source, once the sender's own state (sent first) has made its address a member's,
   * the rest is trusted, as news in the same envelope after a sender's own alive is (swim-node.ts)
   * and as the sender's next message would be. Held as introductions instead, a joiner's first
   * push-pull with a member that had not heard of it yet turned its 255 other states into
   * candidates, nearly all dropped at the per-source cap (N=2,000 mass join: 195 thousand dropped,
   * 27 thousand with this).
   */
  mergeStates(from: string, states: readonly NodeState[], via: Introducer | undefined): void {
    const m = this.members;
    const skip = this.skipHeld;
    const quiet = this.quietStates;
    for (const s of states) {
      switch (s.state) {
        case 'alive':
          if (skip?.(s)) break;
          this.merging = quiet && s.name !== from;
          try {
            m.onAlive({ k: 5, name: s.name, addr: s.addr, inc: s.inc, inst: s.inst, metaVer: s.metaVer, meta: s.meta, proto: s.proto ?? 1, app: s.app ?? '' }, via);
          } finally {
            this.merging = false;
          }
          if (via !== undefined && !via.trusted && s.name === from && this.trustedSource(via.key)) via = { key: via.key, trusted: true };
          break;
        case 'left':
          m.onDead({ k: 7, name: s.name, inc: s.inc, from: s.name, inst: s.inst });
          break;
        // A peer's "dead" only makes us suspect: we give the member its chance to refute.
        case 'suspect':
        case 'dead':
          m.onSuspect({ k: 6, name: s.name, inc: s.inc, from, inst: s.inst });
          break;
      }
    }
  }

  stop(): void {
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.reject(new GrapevineError('ERR_CLOSED', 'node stopped'));
    }
    this.pending.clear();
  }
}

/** A transport error's text, without repeating an address the message already names. */
function reasonOf(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && !msg.includes(code) ? `${msg} (${code})` : msg;
}
