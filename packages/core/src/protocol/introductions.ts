/**
 * Introductions: members this node has heard of only from a source it has no reason to trust (a
 * packet from an address that is not a member's, a push-pull it did not ask for), held apart from
 * the membership table until their address answers.
 *
 * Why: in a cluster without encryption one forged datagram can name hundreds of invented members
 * at someone else's address. Added to the table, they would dilute round-robin probing (a real
 * crash then takes minutes to detect), and every node would ping, gossip to and dial that address
 * for as long as they lived. Held here instead, a candidate is never probed in the rotation, never
 * gossiped to, never relayed, never sent in a push-pull and never counted in N. It gets a few plain
 * pings of its own (no piggybacked updates, no ping-req fan-out, no TCP fallback), from the next
 * protocol period on, on a budget of its own; the first ack admits it as a member (and only then is it relayed, so every member a
 * node gossips is one some node has heard from). A candidate that never answers is dropped
 * quietly and remembered for a while, so copies of the same forgery are not pinged again.
 *
 * Bounds (options in config.ts): at most `maxIntroductions` candidates at once and at most
 * `introductionsPerSource` from one source; at most `introductionProbesPerPeriod` verification
 * pings per protocol period; `introductionAttempts` pings per candidate. So one forged datagram
 * costs the cluster at most introductionsPerSource × introductionAttempts small pings, all from
 * the one node that received it.
 */
import type { Alive } from './messages.js';

/** Where news of a member came from: a key to count introductions by, and whether it is trusted. */
export interface Introducer {
  /** The source (an address); introductions are capped per key. */
  readonly key: string;
  /** A member's or seed's address, or a push-pull reply to our own request. */
  readonly trusted: boolean;
}

export interface IntroductionOptions {
  /** Candidates held at once. */
  readonly max: number;
  /** Candidates one source may have pending at once. */
  readonly perSource: number;
  /** Verification pings per protocol period. */
  readonly probesPerPeriod: number;
  /** Pings per candidate before it is dropped. */
  readonly attempts: number;
  /** How long a dropped candidate (name, address, instance, incarnation) is not pinged again (ms). */
  readonly rememberFor: number;
}

export interface IntroductionHooks {
  now(): number;
  /** Ping `addr` for `name` and report whether it acked within a protocol period. */
  ping(name: string, addr: string, done: (answered: boolean) => void): void;
  /** The address answered: apply the news as trusted. */
  admit(a: Alive): void;
  count(metric: string): void;
  /** Whether a source (an address) is now a member's or a seed's. */
  trusted?(source: string): boolean;
}

interface Candidate {
  alive: Alive;
  readonly source: string;
  attempts: number;
  inFlight: boolean;
}

function rejectKey(a: Alive): string {
  return `${a.name}\u0000${a.addr}\u0000${a.inst}\u0000${a.inc}`;
}

export class Introductions {
  private readonly candidates = new Map<string, Candidate>();
  private readonly perSource = new Map<string, number>();
  /** Dropped candidates → until when they are ignored. Insertion order is expiry order. */
  private readonly rejected = new Map<string, number>();
  private budget: number;

  constructor(private readonly opts: IntroductionOptions, private readonly hooks: IntroductionHooks) {
    this.budget = opts.probesPerPeriod;
  }

  get size(): number {
    return this.candidates.size;
  }

  has(name: string): boolean {
    return this.candidates.has(name);
  }

  /** News of a member from an untrusted source. */
  offer(a: Alive, via: Introducer): void {
    const until = this.rejected.get(rejectKey(a));
    if (until !== undefined && until > this.hooks.now()) {
      this.hooks.count('drop.introduction-failed-before');
      return;
    }
    const c = this.candidates.get(a.name);
    if (c) {
      // Newer news of a pending candidate replaces what will be admitted (and where it is pinged).
      const newer = a.inst > c.alive.inst || (a.inst === c.alive.inst && (a.inc > c.alive.inc || (a.inc === c.alive.inc && a.metaVer > c.alive.metaVer)));
      if (newer) {
        if (a.addr !== c.alive.addr) c.attempts = 0;
        c.alive = a;
      }
      return;
    }
    const fromSource = this.perSource.get(via.key) ?? 0;
    if (this.candidates.size >= this.opts.max || fromSource >= this.opts.perSource) {
      this.hooks.count('drop.introductions');
      return;
    }
    const fresh: Candidate = { alive: a, source: via.key, attempts: 0, inFlight: false };
    this.candidates.set(a.name, fresh);
    this.perSource.set(via.key, fromSource + 1);
    this.hooks.count('introductions.pending');
    // Not pinged at once: in a cluster that is forming, news of most members reaches us from a
    // member soon after (and settles the candidate), so only those still pending at the next
    // protocol period cost a ping.
  }

  /**
   * Once per protocol period: candidates whose source has since become a member's address are
   * admitted (what it told us is trusted now, as anything it sends from now on would be), then a
   * fresh ping budget is spent on the rest. In a mass join most strangers are joiners not yet
   * heard of, known a moment later: at N=2,000 their news cost 124 thousand verification pings.
   */
  tick(): void {
    const trusted = this.hooks.trusted;
    if (trusted && this.candidates.size > 0) {
      const vouched: Candidate[] = [];
      for (const c of this.candidates.values()) if (!c.inFlight && trusted(c.source)) vouched.push(c);
      for (const c of vouched) {
        if (this.candidates.get(c.alive.name) !== c) continue;
        this.remove(c);
        this.hooks.count('introductions.vouched');
        this.hooks.admit(c.alive);
      }
    }
    this.budget = this.opts.probesPerPeriod;
    for (const c of this.candidates.values()) {
      if (this.budget <= 0) break;
      if (!c.inFlight) this.probe(c);
    }
    const now = this.hooks.now();
    for (const [key, until] of this.rejected) {
      if (until > now) break;
      this.rejected.delete(key);
    }
  }

  /** The member arrived by a trusted path: its candidate, if any, is moot. */
  settle(name: string): void {
    const c = this.candidates.get(name);
    if (c) this.remove(c);
  }

  clear(): void {
    this.candidates.clear();
    this.perSource.clear();
    this.rejected.clear();
  }

  private probe(c: Candidate): void {
    if (this.budget <= 0) return;
    this.budget--;
    c.inFlight = true;
    c.attempts++;
    const asked = c.alive;
    this.hooks.ping(asked.name, asked.addr, (answered) => {
      c.inFlight = false;
      if (this.candidates.get(asked.name) !== c) return; // settled or replaced meanwhile
      if (answered && c.alive.addr === asked.addr) {
        this.remove(c);
        this.hooks.count('introductions.verified');
        this.hooks.admit(c.alive);
        return;
      }
      if (c.attempts >= this.opts.attempts) {
        this.remove(c);
        this.hooks.count('introductions.failed');
        this.remember(c.alive);
      }
    });
  }

  private remove(c: Candidate): void {
    this.candidates.delete(c.alive.name);
    const n = (this.perSource.get(c.source) ?? 1) - 1;
    if (n <= 0) this.perSource.delete(c.source);
    else this.perSource.set(c.source, n);
  }

  private remember(a: Alive): void {
    // Bounded: a few tables' worth; the oldest entries go first.
    while (this.rejected.size >= this.opts.max * 4) {
      const oldest = this.rejected.keys().next().value;
      if (oldest === undefined) break;
      this.rejected.delete(oldest);
    }
    const key = rejectKey(a);
    this.rejected.delete(key); // re-inserted at the end, so insertion order stays expiry order
    this.rejected.set(key, this.hooks.now() + this.opts.rememberFor);
  }
}
