/**
 * The names of live (alive or suspect) members, sorted, as the broadcast tree (broadcast-tree.ts)
 * lays its children over them. Kept up to date one member event at a time — a binary search and
 * one splice — so a broadcast reads the list as it is, and a member change costs one insert or
 * remove instead of rebuilding and re-sorting the whole list (which every broadcast after a change
 * used to pay: O(N log N) for the first broadcast after each event, a cost that grows with churn).
 */
export class LiveOrder {
  private readonly sorted: string[] = [];

  constructor(initial: Iterable<string> = []) {
    for (const n of initial) this.set(n, true);
  }

  /** The sorted names. A live view: read it now, do not keep it across member changes. */
  get names(): readonly string[] {
    return this.sorted;
  }

  get size(): number {
    return this.sorted.length;
  }

  has(name: string): boolean {
    const i = this.lowerBound(name);
    return this.sorted[i] === name;
  }

  /** Record that `name` is (or is no longer) live; a repeat of the current state changes nothing. */
  set(name: string, live: boolean): void {
    const i = this.lowerBound(name);
    const present = this.sorted[i] === name;
    if (live && !present) this.sorted.splice(i, 0, name);
    else if (!live && present) this.sorted.splice(i, 1);
  }

  /** First index whose name is not below `name` (its place, if absent). */
  private lowerBound(name: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < name) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
