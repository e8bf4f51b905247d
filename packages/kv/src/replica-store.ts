/**
 * The local replica store: the records this node holds for the partitions it owns (and, briefly,
 * for partitions it is handing off).
 *
 * - Last writer wins by version (versions.ts): a record older than or equal to the one held is
 *   ignored, so applying the same record twice, or out of order, converges.
 * - TTL: a value past its expiry time reads as absent and is turned into a tombstone of the same
 *   version when touched, so an older copy elsewhere can never come back in its place.
 * - Tombstones are kept until anti-entropy learns every current owner holds them (see
 *   anti-entropy.ts), never just for a fixed time.
 * - Memory: every entry is accounted as key + value + `entryOverheadBytes`; past `maxBytes` the
 *   least recently used values are evicted (counted). Tombstones are not evicted (dropping one could
 *   let an older value back in); a write that cannot fit even after evicting is refused with
 *   ERR_KV_FULL, so the store never grows past its budget.
 * - Per partition it keeps the keys and an order-independent digest (XOR of a hash of each key and
 *   version), updated on every change, so anti-entropy compares replicas without scanning.
 */
import { KvError } from './errors.js';
import type { Hasher } from './hash.js';
import { expired, type KvRecord } from './record.js';
import { compareVersions } from './versions.js';

interface Entry {
  rec: KvRecord;
  partition: number;
  bytes: number;
}

export type ApplyResult = 'applied' | 'stale';

export interface StoreStats {
  entries: number;
  tombstones: number;
  bytes: number;
  evictions: number;
  refused: number;
}

export class ReplicaStore {
  /** Insertion order is recency order: a touched entry is moved to the end. */
  private readonly entries = new Map<string, Entry>();
  private readonly byPartition = new Map<number, Set<string>>();
  private readonly digests: Uint32Array;
  private bytes = 0;
  private tombstones = 0;
  private evictions = 0;
  private refused = 0;

  constructor(
    private readonly hasher: Hasher,
    private readonly partitions: number,
    private readonly partitionOf: (key: string) => number,
    private readonly maxBytes: number,
    private readonly overhead: number,
    private readonly onEvict: (n: number) => void = () => {},
  ) {
    this.digests = new Uint32Array(partitions);
  }

  /** The record held for `key` (tombstones included), turning an expired value into a tombstone. */
  getRecord(key: string, now: number, touch = true): KvRecord | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (expired(e.rec, now)) this.replace(e, { ...e.rec, value: null });
    else if (touch && e.rec.value !== null) {
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e.rec;
  }

  /** Apply a record if it is newer than what is held. Throws ERR_KV_FULL when it cannot fit. */
  apply(rec: KvRecord, now: number): ApplyResult {
    const cur = this.entries.get(rec.key);
    if (cur && compareVersions(rec, cur.rec) <= 0) return 'stale';
    const incoming = expired(rec, now) ? { ...rec, value: null } : rec;
    const need = this.sizeOf(incoming) - (cur ? cur.bytes : 0);
    if (need > 0) this.makeRoom(need, rec.key);
    if (cur) this.replace(cur, incoming);
    else this.insert(incoming);
    return 'applied';
  }

  /** Remove a tombstone, only if it is still exactly the version given (a newer write stays). */
  purgeTombstone(key: string, ts: number, node: string): boolean {
    const e = this.entries.get(key);
    if (!e || e.rec.value !== null || e.rec.ts !== ts || e.rec.node !== node) return false;
    this.remove(e);
    return true;
  }

  /** Forget every record of a partition (after handing it off to its new owners). */
  dropPartition(p: number): number {
    const keys = this.byPartition.get(p);
    if (!keys) return 0;
    let n = 0;
    for (const k of [...keys]) {
      const e = this.entries.get(k);
      if (e) {
        this.remove(e);
        n++;
      }
    }
    return n;
  }

  /** Records of one partition (a snapshot; expired values reported as tombstones). */
  partitionRecords(p: number, now: number): KvRecord[] {
    const keys = this.byPartition.get(p);
    if (!keys) return [];
    const out: KvRecord[] = [];
    for (const k of [...keys]) {
      const r = this.getRecord(k, now, false);
      if (r) out.push(r);
    }
    return out;
  }

  /** Partitions this store holds at least one record of. */
  heldPartitions(): number[] {
    return [...this.byPartition.keys()];
  }

  digest(p: number): number {
    return this.digests[p] ?? 0;
  }

  /** Live keys (not tombstones, not expired) and their records; for tests and introspection. */
  *liveRecords(now: number): IterableIterator<KvRecord> {
    for (const e of this.entries.values()) if (e.rec.value !== null && !expired(e.rec, now)) yield e.rec;
  }

  /** Every record held, tombstones included; for tests and anti-entropy's tombstone pass. */
  *allRecords(): IterableIterator<KvRecord> {
    for (const e of this.entries.values()) yield e.rec;
  }

  stats(): StoreStats {
    return { entries: this.entries.size, tombstones: this.tombstones, bytes: this.bytes, evictions: this.evictions, refused: this.refused };
  }

  // ---- internals -------------------------------------------------------------------------------

  private sizeOf(rec: KvRecord): number {
    return rec.key.length * 2 + (rec.value ? rec.value.length : 0) + rec.node.length + this.overhead;
  }

  private entryHash(rec: KvRecord): number {
    // Key and version only: a value turned into a tombstone by expiry keeps its version, so two
    // replicas that expire it a moment apart still agree.
    return this.hasher.str(`${rec.key}\u0000${rec.ts}\u0000${rec.node}`);
  }

  private makeRoom(need: number, forKey: string): void {
    if (this.bytes + need <= this.maxBytes) return;
    if (need > this.maxBytes) {
      this.refused++;
      throw new KvError('ERR_KV_FULL', `entry of ${need} bytes exceeds the store's maxBytes (${this.maxBytes})`);
    }
    let evicted = 0;
    for (const e of this.entries.values()) {
      if (this.bytes + need <= this.maxBytes) break;
      if (e.rec.value === null || e.rec.key === forKey) continue;
      this.remove(e);
      evicted++;
    }
    if (evicted) {
      this.evictions += evicted;
      this.onEvict(evicted);
    }
    if (this.bytes + need > this.maxBytes) {
      this.refused++;
      throw new KvError('ERR_KV_FULL', `store full: ${this.bytes} of ${this.maxBytes} bytes held by tombstones; write of ${need} bytes refused`);
    }
  }

  private insert(rec: KvRecord): void {
    const partition = this.partitionOf(rec.key);
    const e: Entry = { rec, partition, bytes: this.sizeOf(rec) };
    this.entries.set(rec.key, e);
    let set = this.byPartition.get(partition);
    if (!set) this.byPartition.set(partition, (set = new Set()));
    set.add(rec.key);
    this.bytes += e.bytes;
    if (rec.value === null) this.tombstones++;
    this.digests[partition]! ^= this.entryHash(rec);
  }

  private replace(e: Entry, rec: KvRecord): void {
    this.digests[e.partition]! ^= this.entryHash(e.rec) ^ this.entryHash(rec);
    if (e.rec.value === null) this.tombstones--;
    if (rec.value === null) this.tombstones++;
    this.bytes -= e.bytes;
    e.rec = rec;
    e.bytes = this.sizeOf(rec);
    this.bytes += e.bytes;
    this.entries.delete(rec.key);
    this.entries.set(rec.key, e);
  }

  private remove(e: Entry): void {
    this.entries.delete(e.rec.key);
    const set = this.byPartition.get(e.partition);
    set?.delete(e.rec.key);
    if (set && set.size === 0) this.byPartition.delete(e.partition);
    this.bytes -= e.bytes;
    if (e.rec.value === null) this.tombstones--;
    this.digests[e.partition]! ^= this.entryHash(e.rec);
  }
}
