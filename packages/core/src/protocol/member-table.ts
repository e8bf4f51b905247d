/**
 * The membership table's storage: one row per member, held column by column in typed arrays
 * (state, incarnation, instance, metadata version, state-change time, set position, and the view
 * digest's contribution with its counted flag) and one shared reference per row to the member's
 * identity (name, address and a profile: metadata, application version and protocol;
 * string-pool.ts), with two open-addressing indexes over the rows: by name (unique) and by address
 * (a multiset: two records may share an address for a while, as when a member restarts under a
 * new name).
 *
 * Why this shape: a simulation holds N nodes × N members in one process, and a record as a JS
 * object costs ~230 bytes (a header, a boxed number for each of the three 64-bit fields, a Map
 * entry by name and another by address). Here a row costs 38 bytes of typed arrays, 8 of
 * reference (with a pool every node's row for a member points at one identity object) and 4–8
 * bytes in each index: about 70 bytes measured with the arrays' spare capacity, the digest's
 * 5 included (docs/scale.md#memory). Records as objects are made only when code outside asks
 * (member-views.ts), so nothing outside holds a row number across calls, except through a RowSet
 * or RowList, which the table renumbers.
 *
 * Rows are appended in insertion order and never reused in place: a removed member leaves a hole
 * that iteration skips, and once a quarter of the rows are holes the table is compacted (rows
 * keep their relative order, so iteration order is always insertion order, as a Map's is; row 0,
 * the node itself, never moves). The sets (live, dead, left) hold row numbers in a dense array
 * for O(1) random picks (swap-remove on delete, as indexed-set.ts does for objects).
 *
 * The indexes hash with a per-table seed (the caller passes random bits, e.g. from its instance
 * id) so that names chosen to collide on one node do not collide on another.
 */
import type { Identity, Profile } from './string-pool.js';

/** State codes in the `state` column (the wire's, member.ts's STATE_CODE); HOLE marks a removed row. */
export const ALIVE = 0;
export const SUSPECT = 1;
export const DEAD = 2;
export const LEFT = 3;
const HOLE = 255;

const EMPTY = -1;
/** Indexes are grown past this load factor (linear probing stays short below it). */
const MAX_LOAD = 0.7;
/** Compaction runs once holes are this share of the rows (and at least MIN_HOLES). */
const HOLE_SHARE = 0.25;
const MIN_HOLES = 32;
/** Typed columns and sets grow by this factor when full. */
const GROWTH = 1.25;

/** One member's fields, as membership.ts inserts them. */
export interface RowInit {
  /** Name, address and profile (string-pool.ts). */
  id: Identity;
  state: number;
  incarnation: number;
  instance: number;
  metaVersion: number;
  stateChangedAt: number;
}

export class MemberTable {
  /** Rows used, holes included; valid rows are 0 ≤ row < rows with state[row] !== HOLE. */
  rows = 0;
  private holes = 0;
  /** Each row's name, address and profile: one shared reference (string-pool.ts's Identity). */
  ids: Identity[] = [];
  state = new Uint8Array(16);
  /**
   * Incarnations: 32-bit until one needs more (they reach 2^53 only at a configured ceiling that
   * high, or from a peer claiming one), then widened to Float64 for good: 4 bytes a row saved in
   * the common case. Write through setInc(); read directly.
   */
  inc: Uint32Array | Float64Array = new Uint32Array(16);
  inst = new Float64Array(16);
  metaVer = new Float64Array(16);
  changed = new Float64Array(16);
  /** Position of the row in the one set that holds it (-1 in none). */
  slot = new Int32Array(16);
  /**
   * The row's contribution to the view digest (view-digest.ts) as int32, valid where `counted` is 1:
   * 5 bytes a row instead of a Map entry by name (~47 B), the one structure per member per node
   * a simulation held outside the table (docs/scale.md#memory).
   */
  contrib = new Int32Array(16);
  counted = new Uint8Array(16);
  /** Told the contribution of a counted row as the row is removed, so the digest's sums stay exact. */
  onUncount: ((c: number) => void) | undefined;
  private byName = new Int32Array(32).fill(EMPTY);
  private byAddr = new Int32Array(32).fill(EMPTY);
  /** The sets and lists over this table's rows, renumbered when it compacts. */
  private readonly sets: Renumbered[] = [];

  constructor(private readonly seed: number) {}

  /** Members held (holes excluded). */
  get size(): number {
    return this.rows - this.holes;
  }

  /** A set of rows kept in step with compaction. */
  newSet(): RowSet {
    const s = new RowSet(this);
    this.sets.push(s);
    return s;
  }

  /** A list of rows kept in step with compaction (a removed row reads -1 after it). */
  newList(): RowList {
    const l = new RowList();
    this.sets.push(l);
    return l;
  }

  /** The row of `name`, or -1. */
  find(name: string): number {
    const idx = this.byName;
    const mask = idx.length - 1;
    for (let i = this.hash(name) & mask; ; i = (i + 1) & mask) {
      const r = idx[i]!;
      if (r === EMPTY) return -1;
      if (this.ids[r]!.name === name) return r;
    }
  }

  /** Does some row (any state) have address `addr`? */
  hasAddress(addr: string): boolean {
    const idx = this.byAddr;
    const mask = idx.length - 1;
    for (let i = this.hash(addr) & mask; ; i = (i + 1) & mask) {
      const r = idx[i]!;
      if (r === EMPTY) return false;
      if (this.ids[r]!.addr === addr) return true;
    }
  }

  /** Does a row other than row 0 (the node itself) in state alive or suspect have address `addr`? */
  liveAt(addr: string): boolean {
    const idx = this.byAddr;
    const mask = idx.length - 1;
    for (let i = this.hash(addr) & mask; ; i = (i + 1) & mask) {
      const r = idx[i]!;
      if (r === EMPTY) return false;
      if (r !== 0 && this.ids[r]!.addr === addr && (this.state[r] === ALIVE || this.state[r] === SUSPECT)) return true;
    }
  }

  /** Append a row for a member not in the table; returns its row. */
  insert(v: RowInit): number {
    if (this.rows === this.state.length) this.growColumns();
    if ((this.size + 1) > this.byName.length * MAX_LOAD) this.rehash(this.byName.length * 2);
    const row = this.rows++;
    this.ids[row] = v.id;
    this.state[row] = v.state;
    this.setInc(row, v.incarnation);
    this.inst[row] = v.instance;
    this.metaVer[row] = v.metaVersion;
    this.changed[row] = v.stateChangedAt;
    this.slot[row] = -1;
    this.counted[row] = 0;
    this.put(this.byName, this.hash(v.id.name), row);
    this.put(this.byAddr, this.hash(v.id.addr), row);
    return row;
  }

  /** Set the row's incarnation (a non-negative safe integer), widening the column past 2^32 − 1. */
  setInc(row: number, v: number): void {
    if (v > 0xffff_ffff && this.inc instanceof Uint32Array) this.inc = grow(this.inc, new Float64Array(this.inc.length));
    this.inc[row] = v;
  }

  /** The row's name, address and profile. */
  name(row: number): string {
    return this.ids[row]!.name;
  }

  addr(row: number): string {
    return this.ids[row]!.addr;
  }

  profile(row: number): Profile {
    return this.ids[row]!.profile;
  }

  /** Give `row` a new identity (same name: a new address or profile), keeping the address index in step. */
  setIdentity(row: number, id: Identity): void {
    if (id.addr === this.ids[row]!.addr) {
      this.ids[row] = id;
      return;
    }
    this.take(this.byAddr, false, row);
    this.ids[row] = id;
    this.put(this.byAddr, this.hash(id.addr), row);
  }

  /** Remove `row` (already out of every set): its references are dropped, a hole is left. */
  remove(row: number): void {
    if (this.counted[row] === 1) {
      this.counted[row] = 0;
      this.onUncount?.(this.contrib[row]!);
    }
    this.take(this.byName, true, row);
    this.take(this.byAddr, false, row);
    this.ids[row] = NO_IDENTITY;
    this.state[row] = HOLE;
    this.holes++;
    if (this.holes >= MIN_HOLES && this.holes >= this.rows * HOLE_SHARE) this.compact();
  }

  /** Valid rows in insertion order. */
  *rowsInOrder(): IterableIterator<number> {
    for (let r = 0; r < this.rows; r++) if (this.state[r] !== HOLE) yield r;
  }

  /** FNV-1a over UTF-16 code units from a per-table seed, then murmur3's fmix32 for the low bits. */
  private hash(s: string): number {
    let h = (0x811c9dc5 ^ this.seed) | 0;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  private put(idx: Int32Array, h: number, row: number): void {
    const mask = idx.length - 1;
    let i = h & mask;
    while (idx[i] !== EMPTY) i = (i + 1) & mask;
    idx[i] = row;
  }

  private key(byName: boolean, row: number): string {
    const id = this.ids[row]!;
    return byName ? id.name : id.addr;
  }

  /** Delete `row` from a linear-probing index keyed by rows' names or addresses (backward-shift, no tombstones). */
  private take(idx: Int32Array, byName: boolean, row: number): void {
    const mask = idx.length - 1;
    let i = this.hash(this.key(byName, row)) & mask;
    while (idx[i] !== row) {
      if (idx[i] === EMPTY) return;
      i = (i + 1) & mask;
    }
    for (let j = (i + 1) & mask; idx[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.hash(this.key(byName, idx[j]!)) & mask;
      // Move j's entry into the gap at i unless its home lies cyclically in (i, j].
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        idx[i] = idx[j]!;
        i = j;
      }
    }
    idx[i] = EMPTY;
  }

  private rehash(capacity: number): void {
    this.byName = new Int32Array(capacity).fill(EMPTY);
    this.byAddr = new Int32Array(capacity).fill(EMPTY);
    for (let r = 0; r < this.rows; r++) {
      if (this.state[r] === HOLE) continue;
      const id = this.ids[r]!;
      this.put(this.byName, this.hash(id.name), r);
      this.put(this.byAddr, this.hash(id.addr), r);
    }
  }

  /** Grow the typed columns by a quarter (copying is amortised O(1) a row; doubling would leave up to half unused). */
  private growColumns(): void {
    const n = Math.ceil(this.state.length * GROWTH);
    this.state = grow(this.state, new Uint8Array(n));
    this.inc = this.inc instanceof Uint32Array ? grow(this.inc, new Uint32Array(n)) : grow(this.inc, new Float64Array(n));
    this.inst = grow(this.inst, new Float64Array(n));
    this.metaVer = grow(this.metaVer, new Float64Array(n));
    this.changed = grow(this.changed, new Float64Array(n));
    this.slot = grow(this.slot, new Int32Array(n));
    this.contrib = grow(this.contrib, new Int32Array(n));
    this.counted = grow(this.counted, new Uint8Array(n));
  }

  /** Squeeze out the holes, keeping row order; the sets and indexes are renumbered. */
  private compact(): void {
    const map = new Int32Array(this.rows);
    let w = 0;
    for (let r = 0; r < this.rows; r++) {
      if (this.state[r] === HOLE) {
        map[r] = -1;
        continue;
      }
      map[r] = w;
      if (w !== r) {
        this.ids[w] = this.ids[r]!;
        this.state[w] = this.state[r]!;
        this.inc[w] = this.inc[r]!;
        this.inst[w] = this.inst[r]!;
        this.metaVer[w] = this.metaVer[r]!;
        this.changed[w] = this.changed[r]!;
        this.slot[w] = this.slot[r]!;
        this.contrib[w] = this.contrib[r]!;
        this.counted[w] = this.counted[r]!;
      }
      w++;
    }
    this.rows = w;
    this.holes = 0;
    this.ids.length = w;
    // Rows past the end keep no stale flag for a later insert to inherit (insert clears it too).
    this.counted.fill(0, w);
    for (const s of this.sets) s.renumber(map);
    let cap = 32;
    while (w + 1 > cap * MAX_LOAD) cap *= 2;
    this.rehash(cap);
  }
}

/** What a removed row points at, so it holds no identity alive (its name matches no lookup: '' is never a member's name). */
const NO_IDENTITY: Identity = Object.freeze({ name: '', addr: '', profile: Object.freeze({ meta: Object.freeze({}), app: '', proto: 0 }) });

function grow<T extends Uint8Array | Int32Array | Uint32Array | Float64Array>(old: Uint8Array | Int32Array | Uint32Array | Float64Array, next: T): T {
  next.set(old);
  return next;
}

/** What the table renumbers when it compacts: `map` is old row → new row, -1 for a removed row. */
interface Renumbered {
  renumber(map: Int32Array): void;
}

/**
 * Row numbers in a plain growable list (an Int32Array, 4 bytes a row), in the order the owner puts
 * them: the prober's round order (prober.ts). Unlike a RowSet it may hold a row that is later
 * removed; after compaction such an entry reads -1, before it a hole (MemberTable says which rows
 * are valid), so the owner checks each row it reads.
 */
export class RowList implements Renumbered {
  private items = new Int32Array(16);
  length = 0;

  at(i: number): number {
    return this.items[i]!;
  }

  set(i: number, row: number): void {
    this.items[i] = row;
  }

  push(row: number): void {
    if (this.length === this.items.length) this.items = grow(this.items, new Int32Array(Math.ceil(this.items.length * GROWTH)));
    this.items[this.length++] = row;
  }

  /** Empty it, with room for `n` rows (storage shrinks when it is much larger than needed). */
  reset(n: number): void {
    this.length = 0;
    if (this.items.length < n || this.items.length > 2 * n + 16) this.items = new Int32Array(Math.ceil(n * GROWTH) + 1);
  }

  renumber(map: Int32Array): void {
    for (let i = 0; i < this.length; i++) {
      const r = this.items[i]!;
      this.items[i] = r < 0 ? -1 : map[r]!;
    }
  }
}

/**
 * Rows in a dense array with O(1) add, delete and pick by position; each row's position is in
 * the table's `slot` column, so a row is in at most one RowSet of a table. Order is arbitrary
 * (delete swaps the last row into the hole) but deterministic.
 */
export class RowSet implements Renumbered {
  private items = new Int32Array(16);
  size = 0;

  constructor(private readonly t: MemberTable) {}

  at(i: number): number {
    return this.items[i]!;
  }

  *values(): IterableIterator<number> {
    for (let i = 0; i < this.size; i++) yield this.items[i]!;
  }

  has(row: number): boolean {
    const s = this.t.slot[row]!;
    return s >= 0 && s < this.size && this.items[s] === row;
  }

  add(row: number): void {
    if (this.has(row)) return;
    if (this.size === this.items.length) this.items = grow(this.items, new Int32Array(Math.ceil(this.items.length * GROWTH)));
    this.t.slot[row] = this.size;
    this.items[this.size++] = row;
  }

  delete(row: number): boolean {
    if (!this.has(row)) return false;
    const i = this.t.slot[row]!;
    const last = this.items[--this.size]!;
    if (last !== row) {
      this.items[i] = last;
      this.t.slot[last] = i;
    }
    this.t.slot[row] = -1;
    return true;
  }

  /** After compaction: every row number through `map` (positions are unchanged). */
  renumber(map: Int32Array): void {
    for (let i = 0; i < this.size; i++) this.items[i] = map[this.items[i]!]!;
  }
}
