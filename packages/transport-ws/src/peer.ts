import type { Link } from './link.js';

/** A message waiting for a usable link. */
export interface Pending {
  message: Buffer;
  resolve(): void;
  reject(err: Error): void;
}

export type PeerLink = Link;

/**
 * Everything the transport knows about sending to one peer, keyed by the peer's canonical URL:
 * the links to it, the one sends use, and the messages waiting for a link.
 */
export class Peer {
  /** The link sends use; undefined while there is none (dialing, or about to dial). */
  link: PeerLink | undefined;
  /** Every link to the peer that finished its hello, including spares and ones being retired. */
  readonly links = new Set<PeerLink>();
  /** A retired link that carried our sends: later sends wait until it has closed, so order holds. */
  draining: PeerLink | undefined;
  dialing = false;
  /** Ends the dial in progress without a failure (the peer's own connection will carry the sends). */
  abortDial: (() => void) | undefined;
  /**
   * Inbound links whose upgrade request named this peer (x-grapevine-from) and whose hello has not
   * arrived yet: while there is one, sends wait for it instead of dialing a second connection.
   */
  readonly expected = new Set<PeerLink>();
  readonly queue: Pending[] = [];
  queuedBytes = 0;

  constructor(readonly key: string) {}

  /** The dial in progress settled (connected, failed or stopped). */
  endDial(): void {
    this.dialing = false;
    this.abortDial = undefined;
  }

  /** True when nothing refers to this entry any more. */
  get idle(): boolean {
    return this.link === undefined && this.links.size === 0 && !this.dialing && this.queue.length === 0 && this.draining === undefined && this.expected.size === 0;
  }

  enqueue(p: Pending): void {
    this.queue.push(p);
    this.queuedBytes += p.message.byteLength;
  }

  /** Takes every waiting message, oldest first. */
  takeQueue(): Pending[] {
    const taken = this.queue.splice(0);
    this.queuedBytes = 0;
    return taken;
  }

  /** The newest usable link of `links` other than `except`. */
  bestSpare(except?: PeerLink): PeerLink | undefined {
    let best: PeerLink | undefined;
    for (const l of this.links) if (l !== except && l.usable) best = l;
    return best;
  }
}

/** Exponential backoff between dial attempts, per dialed URL; bounded in entries. */
export class DialHistory {
  private readonly entries = new Map<string, { failures: number; retryAt: number; connected: boolean }>();

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly maxEntries = 4096,
  ) {}

  /** Milliseconds until the next dial to `key` may start (0: now). */
  waitFor(key: string, now: number): number {
    const e = this.entries.get(key);
    return e === undefined ? 0 : Math.max(0, e.retryAt - now);
  }

  /** Records a failed dial; returns the delay before the next attempt. */
  failed(key: string, now: number): number {
    const e = this.entries.get(key) ?? { failures: 0, retryAt: 0, connected: false };
    e.failures++;
    const full = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(e.failures - 1, 30));
    // Up to 20 % less, so peers that lost the same node do not redial it in lockstep.
    const delay = Math.round(full * (0.8 + 0.2 * Math.random()));
    e.retryAt = now + delay;
    this.put(key, e);
    return delay;
  }

  /** Records a successful dial; true when the peer had been connected before (a reconnect). */
  succeeded(key: string): boolean {
    const before = this.entries.get(key)?.connected ?? false;
    this.put(key, { failures: 0, retryAt: 0, connected: true });
    return before;
  }

  private put(key: string, e: { failures: number; retryAt: number; connected: boolean }): void {
    this.entries.delete(key);
    this.entries.set(key, e);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
