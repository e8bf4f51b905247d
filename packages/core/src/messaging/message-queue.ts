/**
 * The piggyback queue for application broadcasts: the periodic redundancy behind the eager push.
 *
 * Same contract as the membership BroadcastQueue (each entry sent at most `limit` times, least-sent
 * first), but built for volume: entries sit in one bucket per transmit count, so taking parts is a
 * walk from the least-sent bucket rather than a sort of the whole queue on every packet. Within a
 * bucket entries go oldest first, which keeps a sender's messages roughly in order. At the bound
 * the most-sent, oldest entry is dropped (it has had the most chances already) and counted.
 */
/**
 * Entries passed over because they did not fit, after which take() stops: the packet goes with
 * the space it has. Without this bound, a packet with a few dozen bytes left walked the whole
 * queue looking for a part small enough — thousands of entries per packet under a steady stream of
 * broadcasts, which made take() the costliest function inside the event-loop stalls behind the
 * mesh bench's latency tail (docs/mesh.md, "Latency work"). Queued parts are mostly alike in size,
 * so the ones past the first few misses rarely fit either.
 */
export const MAX_TAKE_SKIPS = 8;

interface Entry {
  readonly part: Uint8Array;
  transmits: number;
}

/**
 * One transmit count's entries, oldest first: an array read from `head`, with null where an entry
 * left from the middle (taken after one before it was skipped). Entries almost always leave from
 * the front, so this is a FIFO that take() reads without an iterator. A Set served before, and its
 * iterator walked past every deleted slot at the front of V8's table until the next rehash — with
 * a thousand broadcasts a second leaving the least-sent bucket, take() crossed thousands of holes
 * per packet (docs/mesh.md, "Latency work").
 */
class Bucket {
  items: (Entry | null)[] = [];
  head = 0;
  live = 0;

  push(e: Entry): void {
    this.items.push(e);
    this.live++;
  }

  /** Remove the entry at index i (head <= i < items.length). Indices stay valid until first(). */
  remove(i: number): void {
    this.items[i] = null;
    this.live--;
    if (i === this.head) this.head++;
  }

  /** The oldest entry's index, or -1. May compact the array, which moves every index. */
  first(): number {
    while (this.head < this.items.length && this.items[this.head] === null) this.head++;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else {
      // Holes before head, and in the middle behind an entry that keeps being skipped: compacted
      // once they are most of the array, so it stays within twice the live entries (plus 1,024).
      const holes = this.items.length - this.live;
      if (holes > 1024 && holes * 2 > this.items.length) {
        this.items = this.items.filter((e) => e !== null);
        this.head = 0;
      }
    }
    return this.head < this.items.length ? this.head : -1;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.live = 0;
  }
}

export class MessageQueue {
  private readonly buckets: Bucket[] = [];
  private count = 0;
  /** Entries dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.count;
  }

  /** Queue a part that has already been sent `transmits` times (by the eager push). */
  enqueue(part: Uint8Array, transmits = 0): void {
    this.bucket(transmits).push({ part, transmits });
    this.count++;
    if (this.count > this.maxEntries) this.evict();
  }

  private bucket(n: number): Bucket {
    while (this.buckets.length <= n) this.buckets.push(new Bucket());
    return this.buckets[n]!;
  }

  private evict(): void {
    for (let i = this.buckets.length - 1; i >= 0; i--) {
      const b = this.buckets[i]!;
      const first = b.first();
      if (first >= 0) {
        b.remove(first);
        this.count--;
        this.dropped++;
        return;
      }
    }
  }

  /**
   * Take parts that fit in `budget` bytes (each costs its length plus `perPartOverhead`), at most
   * `maxParts`. Each taken entry counts one transmission; entries reaching `limit` leave the queue.
   */
  take(budget: number, perPartOverhead: number, maxParts: number, limit: number): Uint8Array[] {
    if (this.count === 0 || budget <= perPartOverhead || maxParts <= 0) return [];
    const out: Uint8Array[] = [];
    let moved: Entry[] | undefined;
    let used = 0;
    let skipped = 0;
    // Give up scanning once the space left could not hold even a tiny part.
    const minCost = perPartOverhead + 8;
    outer: for (let i = 0; i < this.buckets.length; i++) {
      const b = this.buckets[i]!;
      if (b.live === 0) continue;
      // Entries moved up go to a later bucket, so this walk never meets them again; the length is
      // read once because nothing is appended to this bucket while it is walked.
      const end = b.items.length;
      for (let k = b.first(); k >= 0 && k < end; k++) {
        const e = b.items[k];
        if (e === null || e === undefined) continue;
        if (e.transmits >= limit) {
          // The limit shrank with the cluster: retire without sending.
          b.remove(k);
          this.count--;
          continue;
        }
        const cost = e.part.length + perPartOverhead;
        if (used + cost > budget) {
          if (budget - used < minCost || ++skipped >= MAX_TAKE_SKIPS) break outer;
          continue;
        }
        used += cost;
        out.push(e.part);
        b.remove(k);
        e.transmits++;
        if (e.transmits < limit) (moved ??= []).push(e);
        else this.count--;
        if (out.length >= maxParts) break outer;
      }
    }
    if (moved) for (const e of moved) this.bucket(e.transmits).push(e);
    return out;
  }

  clear(): void {
    for (const b of this.buckets) b.clear();
    this.count = 0;
  }
}
