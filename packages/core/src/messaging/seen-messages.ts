/**
 * Deduplication of gossip broadcasts by message id (origin name + the origin's HLC timestamp).
 *
 * An id is remembered for `window` ms of local time, and at most `maxEntries` ids are kept; the
 * oldest go first. When an id is forgotten, its origin's floor rises to it: any later copy with an
 * id at or below the floor is treated as already seen. Ids grow monotonically per origin (an HLC),
 * so the floor refuses replays and very late copies after the window without keeping every id
 * forever. The cost: a copy delayed by more than the window behind newer messages of the same
 * origin is dropped as stale, which is the documented dedup window.
 */
export type SeenVerdict = 'new' | 'duplicate' | 'stale';

/** What is kept per origin: the floor, and the ids above it still remembered. */
interface OriginSeen {
  readonly name: string;
  /** Ids at or below it are stale; -Infinity until one of the origin's ids is forgotten. */
  floor: number;
  readonly ids: Set<number>;
}

export class SeenMessages {
  /**
   * Ids remembered, per origin. One lookup by origin name then one by number, rather than a key
   * `origin + NUL + id` built for every copy: most copies that arrive are duplicates, and each
   * built key was a fresh string to allocate, flatten and hash on the receive path (docs/mesh.md,
   * "Latency work").
   */
  private readonly origins = new Map<string, OriginSeen>();
  /**
   * The same ids in the order first seen, as parallel arrays from `head` on (compacted now and
   * then). Pruning reads the front of these, never a Map iterator: an iterator walks past every
   * deleted slot at the front of V8's table until it is rehashed, which made each check cost tens
   * of µs once the table was full (measured: 32 µs per check at 10,000 entries).
   */
  private owner: OriginSeen[] = [];
  private ids: number[] = [];
  private at: number[] = [];
  private head = 0;
  private count = 0;
  /**
   * Origins in the order their floor last rose, oldest first, for the `maxOrigins` bound: a
   * Map used as an ordered set (delete + set moves one to the end).
   */
  private readonly floorOrder = new Map<string, OriginSeen>();
  /** Copies refused as duplicates / below the floor (stale). */
  duplicates = 0;
  stale = 0;

  constructor(
    private readonly window: number,
    private readonly maxEntries: number,
    /** Most origins whose floor is remembered; beyond it the least recently updated go. */
    private readonly maxOrigins: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Record the id if new. */
  check(origin: string, id: number, now: number): SeenVerdict {
    const verdict = this.lookup(origin, id, now);
    if (verdict !== 'new') return verdict;
    let o = this.origins.get(origin);
    if (!o) this.origins.set(origin, (o = { name: origin, floor: -Infinity, ids: new Set() }));
    o.ids.add(id);
    this.owner.push(o);
    this.ids.push(id);
    this.at.push(now);
    this.count++;
    if (this.count > this.maxEntries) this.forgetOldest();
    return 'new';
  }

  /**
   * The verdict check() would give, counting a refused copy the same way, but recording nothing:
   * the receive path asks this with a header read before the payload is decoded (a copy's header
   * alone must not mark its id seen, or a forged header with a bad payload would suppress the
   * genuine message; only a first copy that decodes and validates is recorded, by check()).
   */
  lookup(origin: string, id: number, now: number): SeenVerdict {
    this.prune(now);
    const o = this.origins.get(origin);
    if (o === undefined) return 'new';
    if (id <= o.floor) {
      this.stale++;
      return 'stale';
    }
    if (o.ids.has(id)) {
      this.duplicates++;
      return 'duplicate';
    }
    return 'new';
  }

  private prune(now: number): void {
    while (this.head < this.ids.length && now - this.at[this.head]! >= this.window) this.forgetOldest();
  }

  private forgetOldest(): void {
    const i = this.head;
    if (i >= this.ids.length) return;
    const o = this.owner[i]!;
    const id = this.ids[i]!;
    o.ids.delete(id);
    this.count--;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.owner = this.owner.slice(this.head);
      this.ids = this.ids.slice(this.head);
      this.at = this.at.slice(this.head);
      this.head = 0;
    }
    if (id > o.floor) o.floor = id;
    // Move to the end: recently updated origins are kept longest.
    this.floorOrder.delete(o.name);
    this.floorOrder.set(o.name, o);
    if (this.floorOrder.size > this.maxOrigins) {
      const oldest = this.floorOrder.values().next();
      if (!oldest.done) {
        const rec = oldest.value;
        this.floorOrder.delete(rec.name);
        // Its floor is forgotten; its ids still remembered keep refusing their duplicates.
        rec.floor = -Infinity;
        if (rec.ids.size === 0) this.origins.delete(rec.name);
      }
    }
  }
}
