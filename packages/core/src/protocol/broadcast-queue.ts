/**
 * The dissemination queue: updates waiting to ride on outgoing packets. Each entry is sent at most
 * `limit` times by this node (retransmitMult × ceil(log10(N+1))), least-sent and newest first, and
 * a newer update about the same key (a member's name) replaces the older one, so stale news about a
 * node is never sent after fresher news.
 *
 * Layout, so that no packet sorts or scans the whole queue: one bucket per transmit count, each an
 * array of entries in ascending id (age) order. A packet takes from the least-sent bucket first,
 * newest (the array's end) first; an entry sent moves up one bucket, put in its place by binary
 * search. Eviction takes the oldest entry of the most-sent bucket. Removal by key finds the entry
 * by binary search in its bucket. Array splices move pointers (a memmove), never re-sort. A packet
 * that is nearly full stops looking after 16 entries in a row too large for the space left.
 */
export interface QueuedBroadcast {
  /** Updates with the same key supersede each other. */
  readonly key: string;
  /** The codec bytes of the message, encoded once. */
  readonly part: Uint8Array;
  transmits: number;
  readonly id: number;
  /** Called once the entry leaves the queue (sent its limit, superseded or dropped). */
  readonly done?: () => void;
  /** Fewer transmissions than take()'s limit for this entry (a join's news: reconcile.ts). */
  readonly max?: number;
}

export class BroadcastQueue {
  private readonly byKey = new Map<string, QueuedBroadcast>();
  /** buckets[t]: the entries sent t times, ascending id. */
  private readonly buckets: QueuedBroadcast[][] = [];
  private nextId = 0;
  /** Entries dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.byKey.size;
  }

  enqueue(key: string, part: Uint8Array, done?: () => void, max?: number): void {
    const old = this.byKey.get(key);
    if (old) {
      this.unlink(old);
      old.done?.();
    }
    const entry: QueuedBroadcast = done
      ? { key, part, transmits: 0, id: this.nextId++, done }
      : max !== undefined ? { key, part, transmits: 0, id: this.nextId++, max } : { key, part, transmits: 0, id: this.nextId++ };
    this.byKey.set(key, entry);
    this.bucket(0).push(entry); // the newest id: its place is the end
    if (this.byKey.size > this.maxEntries) this.evict();
  }

  private bucket(t: number): QueuedBroadcast[] {
    while (this.buckets.length <= t) this.buckets.push([]);
    return this.buckets[t]!;
  }

  /** Drop the most-sent, oldest entry (the least useful to keep). */
  private evict(): void {
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      const b = this.buckets[t]!;
      if (b.length === 0) continue;
      const worst = b.shift()!;
      this.byKey.delete(worst.key);
      this.dropped++;
      worst.done?.();
      return;
    }
  }

  /** Take an entry out of its bucket and the key index. */
  private unlink(e: QueuedBroadcast): void {
    this.byKey.delete(e.key);
    const b = this.buckets[e.transmits];
    if (!b) return;
    const i = indexOfId(b, e.id);
    if (i < b.length && b[i] === e) b.splice(i, 1);
  }

  /**
   * Take parts that fit in `budget` bytes, where each part costs its length plus `perPartOverhead`,
   * and at most `maxParts` of them. Each taken entry counts one transmission; entries that reach
   * `limit` leave the queue.
   */
  take(budget: number, perPartOverhead: number, maxParts: number, limit: number): Uint8Array[] {
    if (this.byKey.size === 0 || budget <= perPartOverhead || maxParts <= 0) return [];
    const out: Uint8Array[] = [];
    const sent: QueuedBroadcast[] = [];
    let used = 0;
    // Nothing smaller than this exists: stop scanning once the space left cannot hold it.
    const minCost = perPartOverhead + 1;
    // And stop after this many entries in a row too large for the space left: a nearly full
    // packet would otherwise walk the whole queue looking for a part small enough.
    let skips = 0;
    outer: for (let t = 0; t < this.buckets.length; t++) {
      const b = this.buckets[t]!;
      let keep = b.length; // b[keep..] are the scanned entries that stay (compacted below)
      let lo = b.length; // b[lo..] is the scanned suffix
      for (let i = b.length - 1; i >= 0; i--) {
        if (out.length >= maxParts || budget - used < minCost) break;
        const e = b[i]!;
        lo = i;
        const cost = e.part.length + perPartOverhead;
        if (used + cost > budget) {
          b[--keep] = e;
          if (++skips >= MAX_SKIPS) break;
          continue;
        }
        skips = 0;
        used += cost;
        out.push(e.part);
        sent.push(e);
      }
      // Close the gap the taken entries left in the scanned suffix. (This once started after the
      // entry the skip limit stopped at, which then stayed in the bucket twice whenever the same
      // packet had taken anything before it: sent more often than its limit, and out of id order.)
      const removed = keep - lo;
      if (removed > 0) b.splice(lo, removed);
      if (out.length >= maxParts || budget - used < minCost || skips >= MAX_SKIPS) break outer;
    }
    // Move what was sent up one bucket (after the scan, so no entry is taken twice). `sent` holds
    // runs, one per bucket scanned, each in descending id order: each run is merged into the
    // bucket above in one pass from the back, instead of one splice (a memmove of the bucket's
    // tail) per entry, which dominated take() once buckets held thousands of join facts.
    let run: QueuedBroadcast[] = [];
    let runTo = -1;
    for (const e of sent) {
      e.transmits++;
      if (e.transmits >= limit || (e.max !== undefined && e.transmits >= e.max)) {
        this.byKey.delete(e.key);
        e.done?.();
        continue;
      }
      if (e.transmits !== runTo) {
        if (run.length > 0) mergeDescending(this.bucket(runTo), run);
        run = [];
        runTo = e.transmits;
      }
      run.push(e);
    }
    if (run.length > 0) mergeDescending(this.bucket(runTo), run);
    return out;
  }

  /** Remove entries whose key matches (a reaped member). */
  remove(key: string): void {
    const e = this.byKey.get(key);
    if (e) {
      this.unlink(e);
      e.done?.();
    }
  }

  clear(): void {
    for (const e of this.byKey.values()) e.done?.();
    this.byKey.clear();
    for (const b of this.buckets) b.length = 0;
  }
}

/** Entries too large for the space left that take() passes over before it closes the packet. */
const MAX_SKIPS = 16;

/**
 * Merge `run` (descending id, ids absent from `b`) into `b` (ascending id), keeping `b` ascending.
 * Only the entries of `b` with an id above the run's smallest move; new entries, the usual case,
 * land at the end.
 */
function mergeDescending(b: QueuedBroadcast[], run: readonly QueuedBroadcast[]): void {
  let i = b.length - 1;
  for (const e of run) b.push(e); // grow without holes; every slot is overwritten below
  let w = b.length - 1;
  let j = 0;
  while (j < run.length) {
    const r = run[j]!;
    if (i >= 0 && b[i]!.id > r.id) b[w--] = b[i--]!;
    else {
      b[w--] = r;
      j++;
    }
  }
}

/** The first position in `b` (ascending id) whose id is ≥ `id`. */
function indexOfId(b: readonly QueuedBroadcast[], id: number): number {
  let lo = 0;
  let hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (b[mid]!.id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** retransmitMult × ceil(log10(N+1)). */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}
