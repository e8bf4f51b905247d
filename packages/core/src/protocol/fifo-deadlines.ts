/**
 * Items in the order they were stamped, each with the time it was stamped: what the reaper walks
 * (tombstones, stamped when a member died or left) and what gossip-to-the-dead prunes (recent
 * deaths). Stamps come from one clock in order, so the oldest is always at the front: taking
 * everything stamped before a cutoff is O(items taken), with no scan of the table.
 *
 * Entries are never removed from the middle: an item that changed since (a dead member that came
 * back) stays queued and the consumer checks, when its turn comes, whether the stamp still holds.
 * So the queue holds at most one entry per stamping within the window it is drained over.
 */
export class FifoDeadlines<T> {
  private items: T[] = [];
  private stamps: number[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T, at: number): void {
    this.items.push(item);
    this.stamps.push(at);
  }

  /**
   * Remove and return, oldest first, the entries stamped at or before `cutoff`. If the clock went
   * back, a later entry may carry an earlier stamp; it then waits behind the front one.
   */
  takeUntil(cutoff: number, out: (item: T, at: number) => void): void {
    while (this.head < this.items.length && this.stamps[this.head]! <= cutoff) {
      const item = this.items[this.head]!;
      const at = this.stamps[this.head]!;
      (this.items as (T | undefined)[])[this.head] = undefined;
      this.head++;
      out(item, at);
    }
    // Drop the consumed prefix once it is most of the arrays (amortised O(1) per entry).
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.stamps = this.stamps.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.items = [];
    this.stamps = [];
    this.head = 0;
  }
}
