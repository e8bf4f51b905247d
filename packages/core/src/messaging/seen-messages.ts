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

export class SeenMessages {
  /** key → local time first seen, in insertion order. */
  private readonly seen = new Map<string, number>();
  private readonly origins = new Map<string, { floor: number }>();
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
    return this.seen.size;
  }

  /** Record the id if new. */
  check(origin: string, id: number, now: number): SeenVerdict {
    this.prune(now);
    const o = this.origins.get(origin);
    if (o && id <= o.floor) {
      this.stale++;
      return 'stale';
    }
    const key = origin + '\u0000' + id;
    if (this.seen.has(key)) {
      this.duplicates++;
      return 'duplicate';
    }
    this.seen.set(key, now);
    if (this.seen.size > this.maxEntries) this.forgetOldest();
    return 'new';
  }

  private prune(now: number): void {
    for (const [key, at] of this.seen) {
      if (now - at < this.window) break;
      this.forget(key);
    }
  }

  private forgetOldest(): void {
    const first = this.seen.keys().next();
    if (!first.done) this.forget(first.value);
  }

  private forget(key: string): void {
    this.seen.delete(key);
    const sep = key.lastIndexOf('\u0000');
    const origin = key.slice(0, sep);
    const id = Number(key.slice(sep + 1));
    const o = this.origins.get(origin);
    if (o) {
      if (id > o.floor) o.floor = id;
      // Move to the end: recently updated origins are kept longest.
      this.origins.delete(origin);
      this.origins.set(origin, o);
    } else {
      this.origins.set(origin, { floor: id });
      if (this.origins.size > this.maxOrigins) {
        const oldest = this.origins.keys().next();
        if (!oldest.done) this.origins.delete(oldest.value);
      }
    }
  }
}
