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
 * by binary search in its bucket. Array splices move numbers (a memmove), never re-sort. A packet
 * that is nearly full stops looking after 16 entries in a row too large for the space left.
 *
 * Storage, so that a mass join fits in memory: a simulation holds one queue per node, each with up
 * to one pending fact per member (N² entries in the process right after a join). An entry is a
 * slot in typed-array columns (id, transmit count, where its bytes are) and its bytes are copied
 * into one byte arena per queue, instead of an object holding the codec's Uint8Array: that view
 * (~100 bytes of header) also pinned the codec's shared output buffer, ~250 bytes of it per entry
 * measured (docs/scale.md#memory). The arena is append-only: a part handed out by take() is a view
 * whose bytes never change; when the arena is full (or mostly dead) the live parts are copied into
 * a new one sized to them, so dead bytes cost at most a constant factor and the copying is
 * amortised O(1) per byte queued. An emptied queue gives its storage back.
 */

/** Slots and arena bytes a queue starts with (and falls back to once emptied). */
const MIN_SLOTS = 16;
const MIN_BYTES = 1024;
/** A new arena holds the live bytes times this (room to append before the next repack). */
const ARENA_GROWTH = 1.5;
/** An arena less than this share live is repacked smaller when entries leave. */
const ARENA_MIN_LIVE = 0.25;
const NO_BYTES = new Uint8Array(0);

export class BroadcastQueue {
  /** Key → slot of its entry. */
  private readonly byKey = new Map<string, number>();
  /** buckets[t]: the slots of the entries sent t times, ascending id. */
  private readonly buckets: number[][] = [];
  // Slot columns (one entry per used slot; freed slots are reused through `free`).
  private keys: (string | undefined)[] = [];
  private ids = new Float64Array(MIN_SLOTS);
  private sends = new Int32Array(MIN_SLOTS);
  private offs = new Int32Array(MIN_SLOTS);
  private lens = new Int32Array(MIN_SLOTS);
  /** Per-entry transmission cap below take()'s limit (0: none): a join's news, see reconcile.ts. */
  private caps = new Int32Array(MIN_SLOTS);
  private slotsUsed = 0;
  private free: number[] = [];
  /** Completion callbacks, for the few entries that have one. */
  private readonly dones = new Map<number, () => void>();
  /** The arena: parts appended at `used`; `live` bytes still belong to queued entries. */
  private bytes: Uint8Array = NO_BYTES;
  private used = 0;
  private live = 0;
  private nextId = 0;
  /** Entries dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.byKey.size;
  }

  /** Bytes this queue holds in its columns and arena (for the memory benchmark). */
  get storageBytes(): number {
    return this.ids.byteLength + this.sends.byteLength + this.offs.byteLength + this.lens.byteLength + this.caps.byteLength + this.bytes.byteLength;
  }

  /** Queue `part` under `key`; `max`, when given, sends it at most that many times (below take()'s limit). */
  enqueue(key: string, part: Uint8Array, done?: () => void, max?: number): void {
    const old = this.byKey.get(key);
    if (old !== undefined) {
      this.unlink(old);
      this.release(old)?.();
    }
    const s = this.allocSlot();
    this.keys[s] = key;
    this.ids[s] = this.nextId++;
    this.sends[s] = 0;
    this.caps[s] = max !== undefined && max > 0 ? max : 0;
    this.lens[s] = part.length;
    this.offs[s] = this.store(part);
    if (done) this.dones.set(s, done);
    this.byKey.set(key, s);
    this.bucket(0).push(s); // the newest id: its place is the end
    if (this.byKey.size > this.maxEntries) this.evict();
  }

  private bucket(t: number): number[] {
    while (this.buckets.length <= t) this.buckets.push([]);
    return this.buckets[t]!;
  }

  /** Drop the most-sent, oldest entry (the least useful to keep). */
  private evict(): void {
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      const b = this.buckets[t]!;
      if (b.length === 0) continue;
      const worst = b.shift()!;
      this.byKey.delete(this.keys[worst]!);
      this.dropped++;
      this.release(worst)?.();
      return;
    }
  }

  /** Take an entry out of its bucket and the key index (its slot stays allocated). */
  private unlink(s: number): void {
    this.byKey.delete(this.keys[s]!);
    const b = this.buckets[this.sends[s]!];
    if (!b) return;
    const i = this.indexOfId(b, this.ids[s]!);
    if (i < b.length && b[i] === s) b.splice(i, 1);
  }

  private allocSlot(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.slotsUsed === this.ids.length) {
      const n = this.ids.length * 2;
      this.ids = grown(this.ids, new Float64Array(n));
      this.sends = grown(this.sends, new Int32Array(n));
      this.offs = grown(this.offs, new Int32Array(n));
      this.lens = grown(this.lens, new Int32Array(n));
      this.caps = grown(this.caps, new Int32Array(n));
    }
    return this.slotsUsed++;
  }

  /**
   * Free an entry's slot (already out of the index and its bucket) and its bytes; returns its
   * completion callback for the caller to run once the queue is consistent again.
   */
  private release(s: number): (() => void) | undefined {
    this.keys[s] = undefined;
    this.live -= this.lens[s]!;
    const done = this.dones.get(s);
    if (done) this.dones.delete(s);
    if (this.byKey.size === 0) this.reset();
    else {
      this.free.push(s);
      if (this.bytes.length > MIN_BYTES && this.live < this.bytes.length * ARENA_MIN_LIVE) this.repack(0);
    }
    return done;
  }

  /** Nothing queued: give the columns and the arena back (a drained queue keeps no peak-sized storage). */
  private reset(): void {
    for (const b of this.buckets) b.length = 0;
    this.keys = [];
    this.free = [];
    this.slotsUsed = 0;
    if (this.ids.length > MIN_SLOTS) {
      this.ids = new Float64Array(MIN_SLOTS);
      this.sends = new Int32Array(MIN_SLOTS);
      this.offs = new Int32Array(MIN_SLOTS);
      this.lens = new Int32Array(MIN_SLOTS);
      this.caps = new Int32Array(MIN_SLOTS);
    }
    // Never rewritten in place (parts already handed out are views of it): dropped instead.
    this.bytes = NO_BYTES;
    this.used = 0;
    this.live = 0;
  }

  /** Append a part's bytes to the arena; returns their offset. */
  private store(part: Uint8Array): number {
    if (this.used + part.length > this.bytes.length) this.repack(part.length);
    const at = this.used;
    this.bytes.set(part, at);
    this.used += part.length;
    this.live += part.length;
    return at;
  }

  /** Copy the live parts into a new arena with room for `extra` more bytes and then some. */
  private repack(extra: number): void {
    const next = new Uint8Array(Math.max(MIN_BYTES, Math.ceil((this.live + extra) * ARENA_GROWTH)));
    const old = this.bytes;
    let w = 0;
    for (const s of this.byKey.values()) {
      const from = this.offs[s]!;
      const n = this.lens[s]!;
      for (let k = 0; k < n; k++) next[w + k] = old[from + k]!;
      this.offs[s] = w;
      w += n;
    }
    this.bytes = next;
    this.used = w;
  }

  /**
   * Take parts that fit in `budget` bytes, where each part costs its length plus `perPartOverhead`,
   * and at most `maxParts` of them. Each taken entry counts one transmission; entries that reach
   * `limit` leave the queue. The parts are views whose bytes never change.
   */
  take(budget: number, perPartOverhead: number, maxParts: number, limit: number): Uint8Array[] {
    if (this.byKey.size === 0 || budget <= perPartOverhead || maxParts <= 0) return [];
    const out: Uint8Array[] = [];
    const sent: number[] = [];
    let used = 0;
    // Nothing smaller than this exists: stop scanning once the space left cannot hold it.
    const minCost = perPartOverhead + 1;
    // And stop after this many entries in a row too large for the space left: a nearly full
    // packet would otherwise walk the whole queue looking for a part small enough.
    let skips = 0;
    const { offs, lens } = this;
    outer: for (let t = 0; t < this.buckets.length; t++) {
      const b = this.buckets[t]!;
      let keep = b.length; // b[keep..] are the scanned entries that stay (compacted below)
      let lo = b.length; // b[lo..] is the scanned suffix
      for (let i = b.length - 1; i >= 0; i--) {
        if (out.length >= maxParts || budget - used < minCost) break;
        const s = b[i]!;
        lo = i;
        const cost = lens[s]! + perPartOverhead;
        if (used + cost > budget) {
          b[--keep] = s;
          if (++skips >= MAX_SKIPS) break;
          continue;
        }
        skips = 0;
        used += cost;
        out.push(this.bytes.subarray(offs[s]!, offs[s]! + lens[s]!));
        sent.push(s);
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
    let run: number[] = [];
    let runTo = -1;
    const finished: (() => void)[] = [];
    for (const s of sent) {
      const n = ++this.sends[s]!;
      const cap = this.caps[s]!;
      if (n >= limit || (cap > 0 && n >= cap)) {
        this.byKey.delete(this.keys[s]!);
        const done = this.release(s);
        if (done) finished.push(done);
        continue;
      }
      if (n !== runTo) {
        if (run.length > 0) this.mergeDescending(this.bucket(runTo), run);
        run = [];
        runTo = n;
      }
      run.push(s);
    }
    if (run.length > 0) this.mergeDescending(this.bucket(runTo), run);
    for (const done of finished) done();
    return out;
  }

  /** Remove entries whose key matches (a reaped member). */
  remove(key: string): void {
    const s = this.byKey.get(key);
    if (s !== undefined) {
      this.unlink(s);
      this.release(s)?.();
    }
  }

  clear(): void {
    const dones = [...this.dones.values()];
    this.byKey.clear();
    this.dones.clear();
    this.reset();
    for (const done of dones) done();
  }

  /**
   * Merge `run` (descending id, ids absent from `b`) into `b` (ascending id), keeping `b` ascending.
   * Only the entries of `b` with an id above the run's smallest move; new entries, the usual case,
   * land at the end.
   */
  private mergeDescending(b: number[], run: readonly number[]): void {
    const ids = this.ids;
    let i = b.length - 1;
    for (const s of run) b.push(s); // grow without holes; every slot is overwritten below
    let w = b.length - 1;
    let j = 0;
    while (j < run.length) {
      const r = run[j]!;
      if (i >= 0 && ids[b[i]!]! > ids[r]!) b[w--] = b[i--]!;
      else {
        b[w--] = r;
        j++;
      }
    }
  }

  /** The first position in `b` (ascending id) whose id is ≥ `id`. */
  private indexOfId(b: readonly number[], id: number): number {
    const ids = this.ids;
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[b[mid]!]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Entries too large for the space left that take() passes over before it closes the packet. */
const MAX_SKIPS = 16;

function grown<T extends Float64Array | Int32Array>(old: T, next: T): T {
  next.set(old);
  return next;
}

/** retransmitMult × ceil(log10(N+1)). */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}
