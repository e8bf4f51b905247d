/**
 * The view digest's per-member contributions (view-digest.ts) stored in the member table's
 * `contrib` and `counted` columns, by row: 5 bytes a member instead of a Map entry by name. A
 * simulation holds one per live member per node, N² in one process (docs/scale.md#memory).
 *
 * The digest looks a name up (get) and then stores or deletes it; the row found by the lookup is
 * kept for the call that follows, so a change costs one index probe, not two. A row removed from
 * the table while still counted is subtracted from the digest at that moment (onDrop), so the
 * digest stays exact even when the caller reports the removal later or not at all.
 */
import type { MemberTable } from './member-table.js';
import type { Contributions } from './view-digest.js';

export class TableContributions implements Contributions {
  size = 0;
  onDrop: ((c: number) => void) | undefined;
  /** The row of `lastName` as of the last lookup (rows move only when the table compacts, on remove). */
  private lastName: string | undefined;
  private lastRow = -1;

  constructor(private readonly t: MemberTable) {
    t.onUncount = (c) => {
      this.size--;
      this.lastName = undefined;
      this.onDrop?.(c);
    };
  }

  private rowOf(name: string): number {
    const t = this.t;
    if (name === this.lastName && this.lastRow >= 0 && this.lastRow < t.rows && t.ids[this.lastRow]!.name === name) return this.lastRow;
    const r = t.find(name);
    this.lastName = name;
    this.lastRow = r;
    return r;
  }

  get(name: string): number | undefined {
    const r = this.rowOf(name);
    return r >= 0 && this.t.counted[r] === 1 ? this.t.contrib[r]! : undefined;
  }

  set(name: string, c: number): boolean {
    const r = this.rowOf(name);
    if (r < 0) return false;
    const t = this.t;
    if (t.counted[r] === 0) {
      t.counted[r] = 1;
      this.size++;
    }
    t.contrib[r] = c;
    return true;
  }

  delete(name: string): void {
    const r = this.rowOf(name);
    if (r < 0 || this.t.counted[r] === 0) return;
    this.t.counted[r] = 0;
    this.size--;
  }

  clear(): void {
    this.t.counted.fill(0);
    this.size = 0;
  }

  /** In row order; the name is read only where the bucket is flagged (Contributions.forEachIn). */
  forEachIn(shift: number, flagged: Uint8Array, fn: (name: string, bucket: number) => boolean): void {
    const t = this.t;
    const counted = t.counted;
    const contrib = t.contrib;
    const rows = t.rows;
    for (let r = 0; r < rows; r++) {
      if (counted[r] !== 1) continue;
      const i = shift === 32 ? 0 : (contrib[r]! >>> 0) >>> shift;
      if (flagged[i] === 1 && !fn(t.ids[r]!.name, i)) return;
    }
  }

  /** In row order (the table's insertion order; holes are never counted). */
  forEach(fn: (name: string, c: number) => boolean): void {
    const t = this.t;
    for (let r = 0; r < t.rows; r++) {
      if (t.counted[r] === 1 && !fn(t.ids[r]!.name, t.contrib[r]!)) return;
    }
  }
}
