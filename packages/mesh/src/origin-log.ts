/**
 * An origin's bounded recent log: every event this node published, by sequence number, kept for
 * `retentionWindow` ms and at most `retentionEvents` events, so that a receiver that lost some
 * (packet loss, a partition, a restart) can fetch them. Past either bound the oldest go first;
 * a receiver that asks for one of those learns it is gone and reports a `gap`.
 */
import type { WireEvent } from './wire.js';

export interface LoggedEvent extends WireEvent {
  seq: number;
  /** Clock time when it was sent. */
  at: number;
}

export class OriginLog {
  private items: LoggedEvent[] = [];
  private start = 0;
  /** Sequence number of the newest event ever logged (0: none yet). */
  head = 0;
  /** Events dropped from the log by either bound. */
  evicted = 0;
  /** Send time of the newest event dropped (-Infinity: none). */
  private lastEvictedAt = -Infinity;

  constructor(private readonly maxEvents: number, private readonly window: number) {}

  get size(): number {
    return this.items.length - this.start;
  }

  /** The oldest sequence number still held; head + 1 when the log is empty. */
  get oldest(): number {
    return this.size > 0 ? this.items[this.start]!.seq : this.head + 1;
  }

  /** Log the next event; its sequence number must be head + 1. */
  append(e: LoggedEvent): void {
    if (e.seq !== this.head + 1) throw new Error(`origin log: sequence ${e.seq} after ${this.head}`);
    this.head = e.seq;
    if (this.maxEvents === 0) return;
    this.items.push(e);
    if (this.size > this.maxEvents) this.dropOldest(1);
  }

  /** Forget what is older than the retention window. */
  expire(now: number): void {
    let n = 0;
    while (this.start + n < this.items.length && now - this.items[this.start + n]!.at > this.window) n++;
    if (n > 0) this.dropOldest(n);
  }

  private dropOldest(n: number): void {
    this.lastEvictedAt = this.items[this.start + n - 1]!.at;
    this.start += n;
    this.evicted += n;
    // Compact now and then so the array does not grow without bound.
    if (this.start > 1024 && this.start * 2 > this.items.length) {
      this.items = this.items.slice(this.start);
      this.start = 0;
    }
  }

  /** Up to `max` consecutive events from `from` on (from the oldest held, if that is later). */
  range(from: number, max: number): LoggedEvent[] {
    const first = Math.max(from, this.oldest);
    if (first > this.head) return [];
    const i = this.start + (first - this.oldest);
    return this.items.slice(i, Math.min(i + max, this.items.length));
  }

  /**
   * The sequence number a receiver that stopped hearing at time `t` has surely seen: the last one
   * sent before `t`. When the log no longer reaches back to `t`, 0 (it has to be told of a gap).
   */
  seqBefore(t: number): number {
    // Nothing held: either nothing was sent since t (fine) or what was is gone (a gap).
    if (this.size === 0) return this.lastEvictedAt < t && this.maxEvents > 0 ? this.head : 0;
    const first = this.items[this.start]!;
    if (first.at >= t) return this.lastEvictedAt < t ? first.seq - 1 : 0;
    // Binary search for the last event sent before t.
    let lo = this.start;
    let hi = this.items.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.items[mid]!.at < t) lo = mid;
      else hi = mid - 1;
    }
    return this.items[lo]!.seq;
  }

  /** The time of the newest event (undefined when none is held). */
  get lastAt(): number | undefined {
    return this.size > 0 ? this.items[this.items.length - 1]!.at : undefined;
  }
}
