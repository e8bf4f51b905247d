/**
 * A string → version table for the stale rule (versions.ts): open addressing with linear
 * probing over typed arrays, insert and update only (no delete), cleared whole.
 *
 * Why not a Map: every delivered event records its key, and in a bulk invalidation nearly every
 * key is new to the receiver (a string just decoded from the packet). A Map insert of such a
 * key cost ~0.4–0.8 µs on the bench machine (its hash table growing and rehashing, entries
 * allocated for the collector), the largest single item of a receiver's per-event work in the
 * throughput bench. Here an insert is one hash over the key's UTF-16 units, a probe or two in
 * flat arrays and three stores. The hash is seeded per bus, so keys chosen to collide on one node
 * do not collide on the others.
 */

const EMPTY = 0;

export class VersionTable {
  private keys: (string | undefined)[];
  private hashes: Int32Array;
  private versions: Float64Array;
  private mask: number;
  /** Keys held. */
  size = 0;

  constructor(private readonly seed: number, capacity = 64) {
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.keys = new Array<string | undefined>(cap).fill(undefined);
    this.hashes = new Int32Array(cap);
    this.versions = new Float64Array(cap);
    this.mask = cap - 1;
  }

  /** Seeded 32-bit hash of the key's UTF-16 units; never 0 (0 marks an empty slot). */
  hash(key: string): number {
    let h = this.seed ^ key.length;
    for (let i = 0; i < key.length; i++) {
      h = Math.imul(h ^ key.charCodeAt(i), 0x5bd1e995);
      h ^= h >>> 13;
    }
    h = Math.imul(h ^ (h >>> 15), 0x27d4eb2d);
    h ^= h >>> 16;
    return h === EMPTY ? 1 : h;
  }

  /** Slot of `key` (hash `h`), or -1. */
  find(key: string, h: number): number {
    const { keys, hashes, mask } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const x = hashes[i]!;
      if (x === EMPTY) return -1;
      if (x === h && keys[i] === key) return i;
    }
  }

  version(slot: number): number {
    return this.versions[slot]!;
  }

  setVersion(slot: number, version: number): void {
    this.versions[slot] = version;
  }

  /** Record a key that find() did not find. */
  insert(key: string, h: number, version: number): void {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const { keys, hashes, mask } = this;
    let i = h & mask;
    while (hashes[i] !== EMPTY) i = (i + 1) & mask;
    hashes[i] = h;
    keys[i] = key;
    this.versions[i] = version;
    this.size++;
  }

  get(key: string): number | undefined {
    const slot = this.find(key, this.hash(key));
    return slot < 0 ? undefined : this.versions[slot];
  }

  /** Forget everything, keeping the arrays (the next generation fills them again). */
  clear(): void {
    if (this.size === 0) return;
    this.keys.fill(undefined);
    this.hashes.fill(EMPTY);
    this.size = 0;
  }

  private grow(): void {
    const { keys, hashes, versions } = this;
    const cap = keys.length * 2;
    this.keys = new Array<string | undefined>(cap).fill(undefined);
    this.hashes = new Int32Array(cap);
    this.versions = new Float64Array(cap);
    this.mask = cap - 1;
    for (let j = 0; j < keys.length; j++) {
      const h = hashes[j]!;
      if (h === EMPTY) continue;
      let i = h & this.mask;
      while (this.hashes[i] !== EMPTY) i = (i + 1) & this.mask;
      this.hashes[i] = h;
      this.keys[i] = keys[j];
      this.versions[i] = versions[j]!;
    }
  }
}
