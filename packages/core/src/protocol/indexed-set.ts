/**
 * A set of members that can be picked from at random in O(1): the items sit in a dense array, and
 * each item remembers its own position (in a field the owner names), so removal swaps the last
 * item into the hole. sampleFrom picks from any set that is indexable this way (Pickable): the
 * membership keeps its live, dead and left members in three such sets of table rows
 * (member-table.ts), so counting them, choosing gossip targets or ping-req helpers, and sampling
 * a push-pull reply cost O(k) for k picks instead of a walk over the whole table.
 *
 * Order inside the array is arbitrary (swap-remove moves items); nothing may depend on it.
 */
import { randomInt, shuffle, type Random } from '../random.js';

/** Where an item keeps its position in the one set that holds it (-1: in none). */
export interface Slotted {
  slot: number;
}

/** What sampleFrom reads of a set: its size, and its items by position and in order. */
export interface Pickable<T> {
  readonly size: number;
  at(i: number): T;
  values(): IterableIterator<T>;
}

export class IndexedSet<T extends Slotted> implements Pickable<T> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The item at position i (0 ≤ i < size); positions change as items are removed. */
  at(i: number): T {
    return this.items[i]!;
  }

  has(item: T): boolean {
    return item.slot >= 0 && this.items[item.slot] === item;
  }

  add(item: T): void {
    if (this.has(item)) return;
    item.slot = this.items.length;
    this.items.push(item);
  }

  delete(item: T): boolean {
    if (!this.has(item)) return false;
    const i = item.slot;
    const last = this.items.pop()!;
    if (last !== item) {
      this.items[i] = last;
      last.slot = i;
    }
    item.slot = -1;
    return true;
  }

  values(): IterableIterator<T> {
    return this.items.values();
  }

  /** A copy of the items (for a caller that will reorder them). */
  toArray(): T[] {
    return this.items.slice();
  }
}

/**
 * Up to k distinct items chosen uniformly at random from the union of `sets` among those `accept`
 * takes, in random order. Rejection sampling by index: O(k) expected when most items are
 * acceptable. When the union is small next to k, or too many picks are rejected (most items are
 * unacceptable), it falls back to filtering the union and shuffling it, which is exact.
 */
export function sampleFrom<T>(random: Random, sets: readonly Pickable<T>[], k: number, accept: (item: T) => boolean): T[] {
  if (k <= 0) return [];
  let total = 0;
  for (const s of sets) total += s.size;
  if (total === 0) return [];
  const itemAt = (i: number): T => {
    for (const s of sets) {
      if (i < s.size) return s.at(i);
      i -= s.size;
    }
    throw new RangeError('index past the union');
  };
  if (total <= 4 * k + 8) return exact(random, sets, k, accept);
  const picked = new Set<number>();
  const out: T[] = [];
  const maxTries = 8 * k + 16;
  for (let tries = 0; tries < maxTries && out.length < k; tries++) {
    const i = randomInt(random, total);
    if (picked.has(i)) continue;
    picked.add(i);
    const item = itemAt(i);
    if (accept(item)) out.push(item);
  }
  // Too many rejections: the acceptable items are a small part of the union; filter it exactly.
  return out.length < k ? exact(random, sets, k, accept) : out;
}

function exact<T>(random: Random, sets: readonly Pickable<T>[], k: number, accept: (item: T) => boolean): T[] {
  const all: T[] = [];
  for (const s of sets) for (const item of s.values()) if (accept(item)) all.push(item);
  const out = shuffle(random, all);
  if (out.length > k) out.length = k;
  return out;
}
