/**
 * The names of live (alive or suspect) members, sorted, as the broadcast tree (broadcast-tree.ts)
 * lays its children over them. Kept up to date one member event at a time, so a broadcast reads
 * the list as it is instead of rebuilding and re-sorting it after every change (O(N log N) for the
 * first broadcast after each event, a cost that grows with churn).
 *
 * New names go to a small sorted buffer first and are merged into the main list once the buffer
 * holds about √N of them, or when the list is read. One splice into the main list per new member
 * moved half the list each time: a node learning N members paid O(N²), which at N=2,000 was the
 * largest single self-time in a mass join after the GC. Now an insert costs O(√N) amortised, and
 * the list is merged whole when a broadcast reads it. Removals (deaths, leaves: rare) splice.
 */
export class LiveOrder {
  private readonly sorted: string[] = [];
  /** Names not yet merged into `sorted`, sorted, none of them in `sorted`. */
  private fresh: string[] = [];

  constructor(initial: Iterable<string> = []) {
    for (const n of initial) this.set(n, true);
  }

  /** The sorted names. A live view: read it now, do not keep it across member changes. */
  get names(): readonly string[] {
    if (this.fresh.length > 0) this.merge();
    return this.sorted;
  }

  get size(): number {
    return this.sorted.length + this.fresh.length;
  }

  has(name: string): boolean {
    return this.sorted[lowerBound(this.sorted, name)] === name || this.fresh[lowerBound(this.fresh, name)] === name;
  }

  /** Record that `name` is (or is no longer) live; a repeat of the current state changes nothing. */
  set(name: string, live: boolean): void {
    const i = lowerBound(this.sorted, name);
    if (this.sorted[i] === name) {
      if (!live) this.sorted.splice(i, 1);
      return;
    }
    const j = lowerBound(this.fresh, name);
    const present = this.fresh[j] === name;
    if (live && !present) {
      this.fresh.splice(j, 0, name);
      if (this.fresh.length * this.fresh.length > this.sorted.length + 1024) this.merge();
    } else if (!live && present) {
      this.fresh.splice(j, 1);
    }
  }

  /** Merge the buffer into the main list in place, from the back: one pass, O(N), no new array. */
  private merge(): void {
    const a = this.sorted;
    const b = this.fresh;
    let i = a.length - 1;
    let j = b.length - 1;
    for (let k = 0; k < b.length; k++) a.push(b[k]!); // grow; every slot from here is overwritten
    let w = a.length - 1;
    while (j >= 0) a[w--] = i >= 0 && a[i]! > b[j]! ? a[i--]! : b[j--]!;
    this.fresh = [];
  }
}

/** First index of `list` (sorted) whose name is not below `name` (its place, if absent). */
function lowerBound(list: readonly string[], name: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
