/**
 * The view digest: one 32-bit number that summarises which members a node believes live, at which
 * instance and incarnation. Two nodes whose views agree compute the same digest whatever order they
 * learned things in; a node that misses a member (or a refutation, or a restart) computes another.
 * Pings and acks carry it (see view-sync.ts), so a disagreement is seen within a protocol period
 * instead of at the next periodic push-pull.
 *
 * Why this shape:
 * - Order-independent: the digest is the sum, modulo 2^32, of one hash per member. Addition
 *   commutes, so no sorting is needed, and a change is O(1): subtract the member's old hash, add
 *   its new one. Nothing here walks the member table except rebuild(), which is for the rare
 *   consistency check (it runs where O(N) work is already being done).
 * - Only live members (alive or suspect) count, hashed on (name, instance, incarnation). Suspect
 *   and alive at one incarnation hash alike: a suspicion is news in flight that resolves itself
 *   (refutation raises the incarnation, death removes the member), and counting it would make
 *   every suspicion look like a divergence. Dead and left members do not count: tombstones are
 *   reaped at slightly different moments on each node, and a difference there is harmless.
 * - 32 bits: two different views collide with probability 2^-32 per comparison, and the cost on
 *   the wire is 5 bytes in msgpack. A collision only means that one comparison misses a divergence
 *   the next comparison (with another peer) or the periodic push-pull still catches.
 *
 * The per-member hash is specified byte by byte in docs/protocol.md so that any implementation
 * computes the same digest: FNV-1a (32-bit) over UTF-8(name) (a lone surrogate as U+FFFD), a zero byte, then instance and
 * incarnation each as two little-endian 32-bit words (low word first), finished with murmur3's
 * fmix32 so that a one-step change of incarnation flips about half of the bits.
 */
import type { MemberRecord } from './membership.js';

/** What the digest reads of a record. */
type DigestEntry = Pick<MemberRecord, 'name' | 'state' | 'instance' | 'incarnation'>;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const TWO_32 = 0x1_0000_0000;

function fnvByte(h: number, b: number): number {
  return Math.imul(h ^ b, FNV_PRIME) >>> 0;
}

/** FNV-1a over the UTF-8 bytes of `s` (encoded on the fly: no allocation), then a zero byte. */
function hashName(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      // A surrogate pair is one code point; a lone surrogate is U+FFFD, as TextEncoder writes it.
      const d = c <= 0xdbff && i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    }
    if (c < 0x80) {
      h = fnvByte(h, c);
    } else if (c < 0x800) {
      h = fnvByte(h, 0xc0 | (c >> 6));
      h = fnvByte(h, 0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      h = fnvByte(h, 0xe0 | (c >> 12));
      h = fnvByte(h, 0x80 | ((c >> 6) & 0x3f));
      h = fnvByte(h, 0x80 | (c & 0x3f));
    } else {
      h = fnvByte(h, 0xf0 | (c >> 18));
      h = fnvByte(h, 0x80 | ((c >> 12) & 0x3f));
      h = fnvByte(h, 0x80 | ((c >> 6) & 0x3f));
      h = fnvByte(h, 0x80 | (c & 0x3f));
    }
  }
  return fnvByte(h, 0);
}

function fnvWord(h: number, w: number): number {
  h = fnvByte(h, w & 0xff);
  h = fnvByte(h, (w >>> 8) & 0xff);
  h = fnvByte(h, (w >>> 16) & 0xff);
  return fnvByte(h, (w >>> 24) & 0xff);
}

/** A non-negative safe integer as two 32-bit words, low first. */
function fnvUint(h: number, n: number): number {
  return fnvWord(fnvWord(h, n % TWO_32), Math.floor(n / TWO_32));
}

/** murmur3's 32-bit finaliser: every input bit affects every output bit (the KV ring mixes with it too). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One member's contribution, given the FNV state after its name (hashName). */
function memberHash(nameHash: number, instance: number, incarnation: number): number {
  return fmix32(fnvUint(fnvUint(nameHash, instance), incarnation));
}

/** The hash one live member contributes to a digest (exported for tests and other implementations' vectors). */
export function viewMemberHash(name: string, instance: number, incarnation: number): number {
  return memberHash(hashName(name), instance, incarnation);
}

function counts(r: DigestEntry): boolean {
  return r.state === 'alive' || r.state === 'suspect';
}

/** Most buckets a view is split into for reconciliation (a wire bound: reconcile.ts, docs/protocol.md). */
export const MAX_DIGEST_BUCKETS = 4096;

/** Is `b` a bucket count the wire allows: a power of two from 1 to MAX_DIGEST_BUCKETS. */
export function isBucketCount(b: number): boolean {
  return Number.isInteger(b) && b >= 1 && b <= MAX_DIGEST_BUCKETS && (b & (b - 1)) === 0;
}

/**
 * The bucket of a member's contribution `c` (a uint32) when the view is split into `b` buckets
 * (a power of two): its top log2(b) bits. The contribution, not the name, picks the bucket, so it
 * is read from the stored value without hashing again; a member whose incarnation moves changes
 * bucket, which reconciliation handles like any other difference (both buckets differ).
 */
export function bucketOf(c: number, b: number): number {
  return b === 1 ? 0 : (c >>> 0) >>> (32 - Math.log2(b));
}

/**
 * The digest of a member table, kept current one change at a time, with the same sum kept per
 * bucket for set reconciliation (reconcile.ts): `leafCount` bucket sums, each the sum modulo 2^32
 * of its members' contributions, updated in O(1) beside the whole-view sum. Any coarser power of
 * two is a fold of adjacent leaves (bucketSums), which is how two nodes with different bucket
 * options still compare.
 */
export class ViewDigest {
  private sum = 0;
  private leaves: Uint32Array;
  /** The finest bucket count kept now: it only grows (up to maxLeaves), with the view. */
  leafCount: number;
  private readonly maxLeaves: number;
  /** 32 − log2(leafCount): a contribution's leaf is its top bits. */
  private leafShift: number;
  /** Live members' contributions, by name (as int32); nothing for dead, left or unknown names. */
  private readonly entries: Contributions;
  /**
   * What the last update() left stored for one name: every change reaches the digest twice (the
   * news's dissemination, then its member event), and the second call would hash the name again
   * only to find the same contribution. Cleared whenever the store changes by another path.
   */
  private memoName: string | undefined;
  private memoLive = false;
  private memoInst = 0;
  private memoInc = 0;

  /** `leafCount`: the finest bucket count kept (a power of two, at most MAX_DIGEST_BUCKETS). */
  /**
   * `store`: where the per-member contributions live; by default a Map of its own. A node passes
   * its member table's column (member-contributions.ts), which also subtracts a member whose row is
   * removed while still counted.
   *
   * `startAt` (a node passes 1024): keep only that many leaves while the view has no more members
   * than that, and double them (up to `leafCount`) as it grows past, so a small cluster's nodes do
   * not each hold 16 KB of sums for 4096 buckets. Without it, `leafCount` leaves from the start.
   */
  constructor(leafCount = 1024, store: Contributions = new MapContributions(), startAt = leafCount) {
    if (!isBucketCount(leafCount)) throw new RangeError(`leafCount must be a power of two from 1 to ${MAX_DIGEST_BUCKETS}, got ${leafCount}`);
    this.entries = store;
    store.onDrop = (c) => {
      this.memoName = undefined;
      this.sum = (this.sum - (c >>> 0) + TWO_32) % TWO_32;
      this.addLeaf(c, -1);
    };
    this.maxLeaves = leafCount;
    const first = isBucketCount(startAt) ? Math.min(startAt, leafCount) : leafCount;
    this.leafCount = first;
    this.leaves = new Uint32Array(first);
    this.leafShift = 32 - Math.log2(first);
  }

  /** More members than leaves: double the leaves (up to the most), re-adding every contribution once. */
  private growLeaves(): void {
    let n = this.leafCount;
    while (n < this.entries.size && n < this.maxLeaves) n *= 2;
    if (n === this.leafCount) return;
    this.leafCount = n;
    this.leaves = new Uint32Array(n);
    this.leafShift = 32 - Math.log2(n);
    this.entries.forEach((_name, c) => {
      this.addLeaf(c, 1);
      return true;
    });
  }

  /** Add (sign 1) or remove (sign -1) contribution `c` in its leaf; the Uint32Array wraps modulo 2^32. */
  private addLeaf(c: number, sign: 1 | -1): void {
    const i = this.leafShift === 32 ? 0 : (c >>> 0) >>> this.leafShift;
    this.leaves[i] = this.leaves[i]! + sign * (c >>> 0);
  }

  /** The current digest: a uint32. */
  get value(): number {
    return this.sum;
  }

  /** Members counted in the digest. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Bring one member's contribution up to date. `r` is the member's record now, or undefined when
   * the record is gone. O(1) plus the name's length.
   */
  update(name: string, r: DigestEntry | undefined): void {
    const live = r !== undefined && counts(r);
    if (name === this.memoName && live === this.memoLive && (!live || (r.instance === this.memoInst && r.incarnation === this.memoInc))) return;
    this.memoName = undefined;
    const e = this.entries.get(name);
    if (!live) {
      this.remember(name, false, 0, 0);
      if (e !== undefined) {
        this.sum = (this.sum - (e >>> 0) + TWO_32) % TWO_32;
        this.addLeaf(e, -1);
        this.entries.delete(name);
      }
      return;
    }
    // The name is hashed again on a change (O(name length)) rather than cached per entry.
    const c = memberHash(hashName(name), r.instance, r.incarnation);
    if (e !== undefined) {
      this.remember(name, true, r.instance, r.incarnation);
      if ((c | 0) === e) return;
      this.sum = (this.sum - (e >>> 0) + c + TWO_32) % TWO_32;
      this.addLeaf(e, -1);
      this.addLeaf(c, 1);
      this.entries.set(name, c | 0);
      return;
    }
    if (!this.entries.set(name, c | 0)) return;
    this.remember(name, true, r.instance, r.incarnation);
    this.sum = (this.sum + c) % TWO_32;
    this.addLeaf(c, 1);
    if (this.entries.size > this.leafCount && this.leafCount < this.maxLeaves) this.growLeaves();
  }

  private remember(name: string, live: boolean, inst: number, inc: number): void {
    this.memoName = name;
    this.memoLive = live;
    this.memoInst = inst;
    this.memoInc = inc;
  }

  /** Is `name` counted (held as a live member)? */
  has(name: string): boolean {
    return this.entries.get(name) !== undefined;
  }

  /** The per-bucket sums for `b` buckets (a power of two, at most leafCount): O(leafCount). */
  bucketSums(b: number): Uint32Array {
    return foldSums(this.leaves, b);
  }

  /**
   * Call `fn` with the name (and bucket) of every counted member whose bucket (of `b`) is flagged,
   * until it returns false. O(members): the walk reads the stored contributions, it hashes nothing.
   */
  forEachIn(b: number, flagged: Uint8Array, fn: (name: string, bucket: number) => boolean): void {
    this.entries.forEachIn(32 - Math.log2(b), flagged, fn);
  }

  /**
   * Recompute from the whole table (O(N)); returns true when the incremental value had drifted,
   * which means some change reached the table without update() being called.
   */
  rebuild(records: Iterable<DigestEntry>): boolean {
    this.memoName = undefined;
    const before = this.sum;
    const old = this.entries.size;
    const oldLeaves = this.leaves.slice();
    this.entries.clear();
    this.sum = 0;
    this.leaves.fill(0);
    for (const r of records) this.update(r.name, r);
    let leavesMoved = false;
    for (let i = 0; i < this.leafCount && !leavesMoved; i++) leavesMoved = oldLeaves[i] !== this.leaves[i];
    return before !== this.sum || old !== this.entries.size || leavesMoved;
  }
}

/**
 * Where a digest keeps each counted member's contribution (an int32, `c | 0`). Every node of a
 * simulation holds one per live member, N² in one process, which is why a node keeps them in a
 * column of its member table rather than in a Map by name.
 */
export interface Contributions {
  readonly size: number;
  get(name: string): number | undefined;
  /** Store `c` for `name`; false when the store cannot hold that name (then it is not counted). */
  set(name: string, c: number): boolean;
  delete(name: string): void;
  clear(): void;
  /** Every stored (name, contribution), in the store's order, until `fn` returns false. */
  forEach(fn: (name: string, c: number) => boolean): void;
  /**
   * Every stored name whose bucket (the contribution's bits above `shift`; shift 32: bucket 0) is
   * flagged, with that bucket, until `fn` returns false. Names are read only for flagged entries:
   * a reconciliation answer walks every live member, and reading each one's name cost a pointer
   * chase per member where the bucket test needs only the stored number.
   */
  forEachIn(shift: number, flagged: Uint8Array, fn: (name: string, bucket: number) => boolean): void;
  /** Set by the digest: the store calls it with the contribution of an entry that went away by itself. */
  onDrop: ((c: number) => void) | undefined;
}

/** Contributions in a Map of their own, in the order first counted (a digest without a member table). */
export class MapContributions implements Contributions {
  private readonly m = new Map<string, number>();
  onDrop: ((c: number) => void) | undefined;
  get size(): number {
    return this.m.size;
  }
  get(name: string): number | undefined {
    return this.m.get(name);
  }
  set(name: string, c: number): boolean {
    this.m.set(name, c);
    return true;
  }
  delete(name: string): void {
    this.m.delete(name);
  }
  clear(): void {
    this.m.clear();
  }
  forEach(fn: (name: string, c: number) => boolean): void {
    for (const [name, c] of this.m) if (!fn(name, c)) return;
  }
  forEachIn(shift: number, flagged: Uint8Array, fn: (name: string, bucket: number) => boolean): void {
    for (const [name, c] of this.m) {
      const i = shift === 32 ? 0 : (c >>> 0) >>> shift;
      if (flagged[i] === 1 && !fn(name, i)) return;
    }
  }
}

/**
 * Sums over `b` buckets from sums over more (both powers of two): bucket i of b is the sum of the
 * finer buckets [i·g, (i+1)·g), g = sums.length / b, since a bucket is a prefix of the hash bits.
 */
export function foldSums(sums: ArrayLike<number>, b: number): Uint32Array {
  const n = sums.length;
  if (!isBucketCount(b) || b > n) throw new RangeError(`cannot fold ${n} bucket sums into ${b}`);
  const g = n / b;
  const out = new Uint32Array(b);
  for (let i = 0; i < b; i++) {
    let s = 0;
    for (let j = i * g; j < (i + 1) * g; j++) s = (s + sums[j]!) >>> 0;
    out[i] = s;
  }
  return out;
}

/** The digest of a table computed from scratch (tests, and the consistency check). */
export function computeViewDigest(records: Iterable<DigestEntry>): number {
  const d = new ViewDigest();
  d.rebuild(records);
  return d.value;
}
