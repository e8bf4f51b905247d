/**
 * An origin's bounded recent log: every event this node published, by sequence number, kept for
 * `retentionWindow` ms and at most `retentionEvents` events, so that a receiver that lost some
 * (packet loss, a partition, a restart) can fetch them. Past either bound the oldest go first;
 * a receiver that asks for one of those learns it is gone and reports a `gap`.
 *
 * The log holds whole batches as they were sent (the batcher's columns, one send time each), not
 * a record per event: logging is one push per batch, and an event becomes an object only when a
 * fetch asks for it. A record per event, kept for 10,000 events, was most of what a busy
 * publisher's collector had to copy and promote.
 */
import { ACK, HAS_VALUE, type EventColumns } from './batcher.js';
import type { WireEvent } from './wire.js';

export interface LoggedEvent extends WireEvent {
  seq: number;
  /** Clock time when it was sent. */
  at: number;
}

/** One sent batch: events first .. first + n - 1, all sent at `at`. */
interface Chunk {
  first: number;
  n: number;
  at: number;
  cols: EventColumns;
}

export class OriginLog {
  private chunks: Chunk[] = [];
  /** Index of the oldest chunk still (partly) held, and how many of its events were dropped. */
  private start = 0;
  private skip = 0;
  private held = 0;
  /** Sequence number of the newest event ever logged (0: none yet). */
  head = 0;
  /** Events dropped from the log by either bound. */
  evicted = 0;
  /** Send time of the newest event dropped (-Infinity: none). */
  private lastEvictedAt = -Infinity;

  constructor(private readonly maxEvents: number, private readonly window: number) {}

  get size(): number {
    return this.held;
  }

  /** The oldest sequence number still held; head + 1 when the log is empty. */
  get oldest(): number {
    return this.held > 0 ? this.chunks[this.start]!.first + this.skip : this.head + 1;
  }

  /** Log one event; its sequence number must be head + 1. */
  append(e: LoggedEvent): void {
    const flags = (e.hasValue ? HAS_VALUE : 0) | (e.ack ? ACK : 0);
    this.appendBatch(e.seq, { keys: [e.key], versions: [e.version], flags: [flags], values: e.hasValue ? [e.value] : undefined }, 1, e.at);
  }

  /**
   * Log the first `n` events of `cols`, numbered from `first` (which must be head + 1), sent at
   * `at`. The log keeps `cols` as it is: the caller hands it over.
   */
  appendBatch(first: number, cols: EventColumns, n: number, at: number): void {
    if (first !== this.head + 1 || n < 1) throw new Error(`origin log: sequence ${first} after ${this.head}`);
    this.head = first + n - 1;
    if (this.maxEvents === 0) return;
    this.chunks.push({ first, n, at, cols });
    this.held += n;
    if (this.held > this.maxEvents) this.dropOldest(this.held - this.maxEvents);
  }

  /** Forget what is older than the retention window. */
  expire(now: number): void {
    while (this.held > 0) {
      const c = this.chunks[this.start]!;
      if (now - c.at <= this.window) break;
      this.dropOldest(c.n - this.skip);
    }
  }

  private dropOldest(k: number): void {
    while (k > 0) {
      const c = this.chunks[this.start]!;
      const take = Math.min(k, c.n - this.skip);
      this.skip += take;
      this.held -= take;
      this.evicted += take;
      this.lastEvictedAt = c.at;
      k -= take;
      if (this.skip === c.n) {
        this.start++;
        this.skip = 0;
      }
    }
    // Compact now and then so the array does not grow without bound.
    if (this.start > 64 && this.start * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.start);
      this.start = 0;
    }
  }

  /** The index of the chunk holding `seq` (held, so oldest <= seq <= head). */
  private chunkOf(seq: number): number {
    let lo = this.start;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid]!.first <= seq) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Up to `max` consecutive events from `from` on (from the oldest held, if that is later). */
  range(from: number, max: number): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    if (this.held === 0) return out;
    let seq = Math.max(from, this.oldest);
    if (seq > this.head) return out;
    for (let ci = this.chunkOf(seq); ci < this.chunks.length && out.length < max; ci++) {
      const c = this.chunks[ci]!;
      const { keys, versions, flags, values } = c.cols;
      for (let i = seq - c.first; i < c.n && out.length < max; i++, seq++) {
        const f = flags ? flags[i]! : 0;
        const e: LoggedEvent = { key: keys[i]!, version: versions[i]!, ack: (f & ACK) !== 0, hasValue: (f & HAS_VALUE) !== 0, seq, at: c.at };
        if (e.hasValue) e.value = values![i];
        out.push(e);
      }
    }
    return out;
  }

  /**
   * The sequence number a receiver that stopped hearing at time `t` has surely seen: the last one
   * sent before `t`. When the log no longer reaches back to `t`, 0 (it has to be told of a gap).
   */
  seqBefore(t: number): number {
    // Nothing held: either nothing was sent since t (fine) or what was is gone (a gap).
    if (this.held === 0) return this.lastEvictedAt < t && this.maxEvents > 0 ? this.head : 0;
    const first = this.chunks[this.start]!;
    if (first.at >= t) return this.lastEvictedAt < t ? first.first + this.skip - 1 : 0;
    // Binary search for the last batch sent before t.
    let lo = this.start;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid]!.at < t) lo = mid;
      else hi = mid - 1;
    }
    const c = this.chunks[lo]!;
    return c.first + c.n - 1;
  }

  /** The time of the newest event (undefined when none is held). */
  get lastAt(): number | undefined {
    return this.held > 0 ? this.chunks[this.chunks.length - 1]!.at : undefined;
  }
}
