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

export class MessageQueue {
  private readonly buckets: Set<Entry>[] = [];
  private count = 0;
  /** Entries dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.count;
  }

  /** Queue a part that has already been sent `transmits` times (by the eager push). */
  enqueue(part: Uint8Array, transmits = 0): void {
    this.bucket(transmits).add({ part, transmits });
    this.count++;
    if (this.count > this.maxEntries) this.evict();
  }

  private bucket(n: number): Set<Entry> {
    while (this.buckets.length <= n) this.buckets.push(new Set());
    return this.buckets[n]!;
  }

  private evict(): void {
    for (let i = this.buckets.length - 1; i >= 0; i--) {
      const b = this.buckets[i]!;
      const first = b.values().next();
      if (!first.done) {
        b.delete(first.value);
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
    const moved: Entry[] = [];
    let used = 0;
    let skipped = 0;
    // Give up scanning once the space left could not hold even a tiny part.
    const minCost = perPartOverhead + 8;
    outer: for (let i = 0; i < this.buckets.length; i++) {
      const b = this.buckets[i]!;
      for (const e of b) {
        if (e.transmits >= limit) {
          // The limit shrank with the cluster: retire without sending.
          b.delete(e);
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
        b.delete(e);
        e.transmits++;
        if (e.transmits < limit) moved.push(e);
        else this.count--;
        if (out.length >= maxParts) break outer;
      }
    }
    for (const e of moved) this.bucket(e.transmits).add(e);
    return out;
  }

  clear(): void {
    for (const b of this.buckets) b.clear();
    this.count = 0;
  }
}
