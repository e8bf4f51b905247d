/**
 * The near cache (optional, `nearCache` option): a node that reads keys it does not own keeps the
 * values it read, so the next read of a hot key is answered from its own memory instead of a round
 * trip to an owner. Bounded (LRU by entries and bytes) and TTL-capped: an entry is never served
 * later than `ttl` ms after it was read (nor past the value's own expiry), whatever happens to
 * invalidations. That is the staleness bound; with a bus it is usually far shorter:
 *
 * - every write this node coordinates drops its own copy at once and, once acknowledged,
 *   publishes the key (under `prefix`) on the bus; every node subscribed to the prefix drops its
 *   copy when the invalidation arrives. A bus that reports a gap (invalidations it lost) makes the
 *   cache drop everything, because it cannot tell which keys were in the gap.
 * - a read in flight when an invalidation for its key arrives does not fill the cache with what it
 *   fetched (it may be the old value): the read leaves a placeholder, an invalidation removes it,
 *   and only a read that still finds its own placeholder stores its answer.
 *
 * The bus is anything with `publish(key)` and `subscribe({ prefix }, fn)` — `@grapevine/mesh`'s
 * MeshBus satisfies it — so the KV does not depend on the mesh package (one job per package).
 * Time comes from the KV's clock, so the TTL runs on the simulator's virtual clock in tests.
 */
import type { KvRecord } from './record.js';

/** What the near cache needs of an invalidation bus (`@grapevine/mesh`'s MeshBus has it). */
export interface InvalidationBus {
  publish(key: string): void;
  subscribe(target: { prefix: string }, fn: (event: { type: string; key?: string }) => void): { unsubscribe(): void };
}

export interface NearCacheOptions {
  /** Most entries kept (default 10,000); the least recently read go first. */
  maxEntries?: number;
  /** Most bytes of keys and values kept (default 16 MiB). */
  maxBytes?: number;
  /** Longest an entry is served after it was read, ms (default 1000): the staleness bound. */
  ttl?: number;
  /** Invalidation bus; without one, entries live until `ttl` (or eviction). */
  bus?: InvalidationBus;
  /** Prefix of the KV's keys on the bus (default 'kv:'), so they do not mix with an application's own. */
  prefix?: string;
}

export interface ResolvedNearCache {
  maxEntries: number;
  maxBytes: number;
  ttl: number;
  bus: InvalidationBus | undefined;
  prefix: string;
}

export const nearCacheDefaults = { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024, ttl: 1000, prefix: 'kv:' } as const;

export interface NearCacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  invalidations: number;
  evictions: number;
}

interface Slot {
  /** undefined while the read that placed this slot is in flight. */
  rec: KvRecord | undefined;
  /** Wall ms after which the slot is not served. */
  until: number;
  bytes: number;
}

export class NearCache {
  /** Insertion order is recency order. */
  private readonly slots = new Map<string, Slot>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private invalidations = 0;
  private evictions = 0;

  constructor(readonly opts: ResolvedNearCache) {}

  /** The cached live record, or undefined (a miss). */
  get(key: string, now: number): KvRecord | undefined {
    const s = this.slots.get(key);
    if (!s || s.rec === undefined) {
      this.misses++;
      return undefined;
    }
    if (s.until <= now || (s.rec.exp !== 0 && s.rec.exp <= now)) {
      this.remove(key, s);
      this.misses++;
      return undefined;
    }
    this.slots.delete(key);
    this.slots.set(key, s);
    this.hits++;
    return s.rec;
  }

  /** A read of `key` is starting: returns the placeholder that fill() must still find. */
  begin(key: string, now: number): object {
    const old = this.slots.get(key);
    if (old) this.remove(key, old);
    const s: Slot = { rec: undefined, until: now + this.opts.ttl, bytes: key.length * 2 + 64 };
    this.insert(key, s);
    return s;
  }

  /** The read that placed `token` answered: keep a live record unless an invalidation came first. */
  fill(key: string, token: object, rec: KvRecord | undefined, now: number): void {
    const s = this.slots.get(key);
    if (s !== token) return;
    this.remove(key, s);
    if (!rec || rec.value === null || (rec.exp !== 0 && rec.exp <= now)) return;
    const slot: Slot = { rec, until: Math.min(s.until, rec.exp || Infinity), bytes: key.length * 2 + rec.value.length + 64 };
    if (slot.bytes > this.opts.maxBytes) return;
    this.insert(key, slot);
  }

  invalidate(key: string): void {
    const s = this.slots.get(key);
    if (s) {
      this.remove(key, s);
      this.invalidations++;
    }
  }

  clear(): void {
    this.invalidations += this.slots.size;
    this.slots.clear();
    this.bytes = 0;
  }

  stats(): NearCacheStats {
    return { entries: this.slots.size, bytes: this.bytes, hits: this.hits, misses: this.misses, invalidations: this.invalidations, evictions: this.evictions };
  }

  private insert(key: string, s: Slot): void {
    this.slots.set(key, s);
    this.bytes += s.bytes;
    while (this.slots.size > this.opts.maxEntries || this.bytes > this.opts.maxBytes) {
      const first = this.slots.entries().next();
      if (first.done) break;
      this.remove(first.value[0], first.value[1]);
      this.evictions++;
    }
  }

  private remove(key: string, s: Slot): void {
    this.slots.delete(key);
    this.bytes -= s.bytes;
  }
}
