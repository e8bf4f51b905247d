/**
 * A string → version table for the stale rule (versions.ts): open addressing with linear
 * probing, insert and update only (no delete), cleared whole.
 *
 * Why not a Map: every delivered event records its key, and in a bulk invalidation nearly every
 * key is new to the receiver (a string just decoded from the packet). A Map insert of such a
 * key cost ~0.4–0.8 µs on the bench machine (its hash table growing and rehashing, entries
 * allocated for the collector), the largest single item of a receiver's per-event work in the
 * throughput bench. Here an insert is one hash over the key's UTF-16 units, a probe or two and
 * a few stores. The hash is seeded per bus, so keys chosen to collide on one node do not collide
 * on the others.
 *
 * Layout: entries are dense, in insertion order — the key strings in one JS array that only
 * grows by push, their hashes and versions in typed arrays — and the probe table is an Int32Array
 * of (entry number + 1, hash) pairs, so a probe past another key compares hashes in the cache
 * line it already read. Growing rehashes typed arrays only. The first version kept the keys in a
 * JS array the size of the probe table, refilled on every doubling: writing those large arrays
 * of pointers was 21% of the CPU of the in-memory throughput bench (bench/src/mesh-cpu.ts, ten
 * receivers recording 50,000 new keys each), more than the rest of the receive path.
 */

/** A probe-table slot holding no entry. */
const EMPTY = 0;

export class VersionTable {
  /** Entry i's key, hash and version (i < size). */
  private keys: string[] = [];
  private hashes: Int32Array;
  private versions: Float64Array;
  /** Probe table, two Int32 per slot: entry number + 1 (or EMPTY), the entry's hash. */
  private slots: Int32Array;
  /** Slots - 1 (a power of two less one). */
  private mask: number;
  /** Keys held (indexed; `deferred` more wait to be). */
  size = 0;
  /**
   * Entries recorded by defer(), not yet hashed or placed: indexed by settle() when a lookup
   * needs them. A receiver of one origin's stream records ever newer versions that no lookup
   * ever asks about (nothing recorded can make them stale), and a generation of them can be
   * forgotten without ever being indexed: recording one is two pushes, not a hash and a probe
   * into a table that, at 100,000 keys per node, no longer fits the cache.
   */
  private laterKeys: string[] = [];
  private laterVersions = new Float64Array(16);
  private laterCount = 0;
  /** Room settle() makes before its first insert (reserveLater). */
  private wanted = 0;

  constructor(private readonly seed: number, capacity = 64) {
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.slots = new Int32Array(cap * 2);
    this.mask = cap - 1;
    this.hashes = new Int32Array(cap >> 1);
    this.versions = new Float64Array(cap >> 1);
  }

  /** Entries waiting for settle() (a key deferred twice, apart, counts twice). */
  get deferred(): number {
    return this.laterCount;
  }

  /**
   * Record `key` at `version` without indexing it. The caller knows no recorded version of any
   * key is newer, so the deferred entries of one key are in ascending order of version.
   */
  defer(key: string, version: number): void {
    const n = this.laterCount;
    // The same key again right after itself (a hot key) takes no new entry.
    if (n > 0 && this.laterKeys[n - 1] === key) {
      this.laterVersions[n - 1] = version;
      return;
    }
    if (n === this.laterVersions.length) {
      const grown = new Float64Array(n * 2);
      grown.set(this.laterVersions);
      this.laterVersions = grown;
    }
    // Written over, not pushed into a fresh array per generation: on the bench machine fresh
    // memory (page faults) was a large part of what growing arrays cost.
    this.laterKeys[n] = key;
    this.laterVersions[n] = version;
    this.laterCount = n + 1;
  }

  /** Index every deferred entry (find() and insert() see only indexed ones). */
  settle(): void {
    if (this.wanted > 0) {
      const n = this.wanted;
      this.wanted = 0;
      this.reserve(n);
    }
    const n = this.laterCount;
    if (n === 0) return;
    const keys = this.laterKeys;
    const versions = this.laterVersions;
    this.laterCount = 0;
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      const h = this.hash(key);
      const at = this.find(key, h);
      if (at < 0) this.insert(key, h, versions[i]!);
      else if (versions[i]! > this.versions[at]!) this.versions[at] = versions[i]!;
    }
  }

  /** reserve(n) at the next settle(): a generation that may be forgotten before any lookup needs it. */
  reserveLater(n: number): void {
    this.wanted = n;
  }

  /** Room for `n` keys without growing (a table that will fill again, like its predecessor). */
  reserve(n: number): void {
    let cap = this.mask + 1;
    while ((n + 1) * 2 > cap) cap *= 2;
    if (cap > this.mask + 1) this.grow(cap);
    if (n > this.hashes.length) this.growEntries(n);
  }

  /** Seeded 32-bit hash of the key's UTF-16 units. */
  hash(key: string): number {
    let h = this.seed ^ key.length;
    for (let i = 0; i < key.length; i++) {
      h = Math.imul(h ^ key.charCodeAt(i), 0x5bd1e995);
      h ^= h >>> 13;
    }
    h = Math.imul(h ^ (h >>> 15), 0x27d4eb2d);
    return h ^ (h >>> 16);
  }

  /** Entry number of `key` (hash `h`), or -1. */
  find(key: string, h: number): number {
    const { slots, keys, mask } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = slots[2 * i]!;
      if (s === EMPTY) return -1;
      if (slots[2 * i + 1] === h && keys[s - 1] === key) return s - 1;
    }
  }

  version(at: number): number {
    return this.versions[at]!;
  }

  setVersion(at: number, version: number): void {
    this.versions[at] = version;
  }

  /** Record a key that find() did not find. */
  insert(key: string, h: number, version: number): void {
    const at = this.size;
    if ((at + 1) * 2 > this.mask + 1) this.grow();
    if (at >= this.hashes.length) this.growEntries();
    this.keys[at] = key; // at = size: written over after a clear, appended otherwise
    this.hashes[at] = h;
    this.versions[at] = version;
    this.size = at + 1;
    this.place(at, h);
  }

  get(key: string): number | undefined {
    this.settle();
    const at = this.find(key, this.hash(key));
    return at < 0 ? undefined : this.versions[at];
  }

  /**
   * Forget everything, keeping the arrays (the next generation fills them again). The key arrays
   * keep pointing at the forgotten strings until written over: at most one generation's worth,
   * the price of not growing fresh arrays each generation.
   */
  clear(): void {
    this.laterCount = 0;
    this.wanted = 0;
    if (this.size === 0) return;
    this.slots.fill(EMPTY);
    this.size = 0;
  }

  private place(at: number, h: number): void {
    const { slots, mask } = this;
    let i = h & mask;
    while (slots[2 * i] !== EMPTY) i = (i + 1) & mask;
    slots[2 * i] = at + 1;
    slots[2 * i + 1] = h;
  }

  private grow(cap = (this.mask + 1) * 2): void {
    this.slots = new Int32Array(cap * 2);
    this.mask = cap - 1;
    const { hashes } = this;
    for (let at = 0; at < this.size; at++) this.place(at, hashes[at]!);
  }

  private growEntries(n = Math.max(16, this.hashes.length * 2)): void {
    const hashes = new Int32Array(n);
    hashes.set(this.hashes);
    const versions = new Float64Array(n);
    versions.set(this.versions);
    this.hashes = hashes;
    this.versions = versions;
  }
}
