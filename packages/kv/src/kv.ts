/**
 * The KV a user holds: get/set/delete/has/getMany/setMany/expire on any node, over the ring of the
 * cluster's KV members. It wires the parts together (coordinator, read repair, hinted handoff, range
 * transfer, anti-entropy) and keeps the ring in step with membership.
 */
import { GrapevineError, HybridLogicalClock, type Cluster, type Metrics } from '@grapevine/core';
import { AntiEntropy, handleDigest, handlePurge, handleSync, handleTombCheck } from './anti-entropy.js';
import type { KvContext } from './context.js';
import { handleRead, handleWrite, read, readLocal, readMany, replicate, type WriteResult } from './coordinator.js';
import { KvError } from './errors.js';
import { Hints } from './handoff.js';
import type { Hasher } from './hash.js';
import { kvTypes, type KvTypes } from './message-types.js';
import type { ResolvedKvOptions } from './options.js';
import { NearCache, type NearCacheStats } from './near-cache.js';
import { OwnerBatches } from './owner-batches.js';
import { acceptTransfer, RangeTransfer } from './range-transfer.js';
import type { KvRecord } from './record.js';
import { ReplicaStore, type StoreStats } from './replica-store.js';
import { Ring, type RingMember } from './ring.js';

/** Metadata key (value '1') that marks a member as running the KV; only marked members own keys. */
export const KV_MEMBER_META = 'kv';

export interface ReadOptions {
  /** Read quorum for this call (default: the readQuorum option). */
  r?: number;
  /** false: ask the owners even when the near cache holds the key (read-then-write callers). Default true. */
  nearCache?: boolean;
}

export interface WriteOptions {
  /** Write quorum for this call (default: the writeQuorum option). */
  w?: number;
}

export interface SetOptions extends WriteOptions {
  /** Time to live in milliseconds (0 or absent: no expiry). */
  ttl?: number;
}

export interface KvEntry<V> {
  value: V;
  /** Absolute expiry time (wall ms), 0 when the key does not expire. */
  expiresAt: number;
  /** The version: HLC timestamp and the node that coordinated the write. */
  version: { ts: number; node: string };
}

export interface KvStats extends StoreStats {
  /** Members the ring places keys on. */
  members: number;
  hints: number;
  rangeBytesSent: number;
  rangeRecordsSent: number;
  antiEntropyRounds: number;
  /** The near cache's counters, when it is on. */
  nearCache?: NearCacheStats;
}

const enc = new TextEncoder();

export class Kv<V = Uint8Array> {
  readonly types: KvTypes;
  private readonly store: ReplicaStore;
  private readonly hlc: HybridLogicalClock;
  private readonly hints: Hints;
  private readonly transfer: RangeTransfer;
  private readonly antiEntropy: AntiEntropy;
  private readonly unregister: (() => void)[] = [];
  private currentRing: Ring;
  private signature = '';
  private dirty = true;
  private isClosed = false;
  private hintTimer: { cancel(): void } | undefined;
  private readonly ctx: KvContext;
  private readonly near: NearCache | undefined;

  /** Use createKv(cluster, options). */
  constructor(
    readonly cluster: Cluster<unknown>,
    readonly options: ResolvedKvOptions,
    private readonly hasher: Hasher,
  ) {
    const metrics: Metrics = cluster.metrics;
    this.types = kvTypes(options.messageTypeBase);
    this.hlc = new HybridLogicalClock(() => options.clock.now());
    this.currentRing = new Ring(hasher, options.partitions, options.replicas, []);
    this.store = new ReplicaStore(hasher, options.partitions, (k) => this.currentRing.partitionOf(k), options.maxBytes, options.entryOverheadBytes, (n) => metrics.increment('kv.evictions', n));
    const self = this;
    const ctx = (): KvContext => this.ctx;
    this.ctx = {
      cluster,
      opts: options,
      store: this.store,
      types: this.types,
      hlc: this.hlc,
      metrics,
      self: cluster.name,
      ring: () => this.ring(),
      now: () => options.clock.now(),
      hint: (owner, rec) => this.hints.add(owner, rec),
      batches: new OwnerBatches(ctx),
      get closed() {
        return self.isClosed || cluster.closed;
      },
    };
    this.near = options.nearCache ? new NearCache(options.nearCache) : undefined;
    this.hints = new Hints(ctx);
    this.transfer = new RangeTransfer(ctx);
    this.antiEntropy = new AntiEntropy(ctx);
  }

  /** Register handlers, mark this member, start the timers. Called once by createKv. */
  start(): void {
    const c = this.cluster;
    const t = this.types;
    this.unregister.push(
      c.handleRequest(t.write, (p) => handleWrite(this.ctx, p)),
      c.handleRequest(t.read, (p) => handleRead(this.ctx, p)),
      c.handleRequest(t.digest, (p) => handleDigest(this.ctx, p)),
      c.handleRequest(t.sync, (p) => handleSync(this.ctx, p)),
      c.handleRequest(t.tombCheck, (p) => handleTombCheck(this.ctx, p)),
      c.handleRequest(t.purge, (p) => handlePurge(this.ctx, p)),
      c.handleStream(t.transfer, (s) => acceptTransfer(this.ctx, s)),
      c.on('change', () => this.membershipChanged()),
    );
    const bus = this.options.nearCache?.bus;
    if (this.near && bus) {
      const near = this.near;
      const prefix = this.options.nearCache!.prefix;
      const sub = bus.subscribe({ prefix }, (e) => {
        if (e.type === 'invalidate' && typeof e.key === 'string' && e.key.startsWith(prefix)) near.invalidate(e.key.slice(prefix.length));
        // Invalidations the bus lost: which keys they named is unknown, so drop every entry.
        else if (e.type === 'gap' || e.type === 'overflow') near.clear();
      });
      this.unregister.push(() => sub.unsubscribe());
    }
    if (c.meta[KV_MEMBER_META] !== '1') c.updateMeta({ [KV_MEMBER_META]: '1' });
    this.membershipChanged();
    const replay = (): void => {
      if (this.ctx.closed) return;
      this.hints.replay();
      this.hintTimer = this.options.clock.setTimer(replay, this.options.hintReplayInterval);
    };
    this.hintTimer = this.options.clock.setTimer(replay, this.options.hintReplayInterval);
    this.antiEntropy.start();
  }

  /** The owners of a key, best first (the first is the primary). */
  owners(key: string): string[] {
    this.checkKey(key);
    return [...this.ring().owners(key)];
  }

  /** The current placement. */
  ring(): Ring {
    if (this.dirty) {
      this.dirty = false;
      const members = this.ringMembers();
      const sig = members.map((m) => `${m.name}\u0000${m.zone}`).join('\u0001');
      if (sig !== this.signature) {
        this.signature = sig;
        this.currentRing = new Ring(this.hasher, this.options.partitions, this.options.replicas, members);
        this.transfer.ringChanged();
      }
    }
    return this.currentRing;
  }

  async get(key: string, opts: ReadOptions = {}): Promise<V | undefined> {
    const e = await this.getEntry(key, opts);
    return e?.value;
  }

  /** The value with its expiry time and version, or undefined. */
  async getEntry(key: string, opts: ReadOptions = {}): Promise<KvEntry<V> | undefined> {
    this.checkOpen();
    this.checkKey(key);
    const r = this.quorum(opts.r, this.options.readQuorum, 'r');
    const near = r === 1 && opts.nearCache !== false ? this.nearFor(key) : undefined;
    let rec: KvRecord | undefined;
    if (near) {
      const now = this.options.clock.now();
      rec = near.get(key, now);
      if (!rec) {
        const token = near.begin(key, now);
        try {
          rec = await read(this.ctx, key, 1);
        } finally {
          near.fill(key, token, rec, this.options.clock.now());
        }
      }
    } else rec = await read(this.ctx, key, r);
    if (!rec || rec.value === null) return undefined;
    return this.entry(rec);
  }

  /**
   * What get(key) with R = 1 resolves with, when this node can answer alone (it owns the key and
   * holds a live value, or its near cache holds one); undefined when it cannot, and then the caller
   * awaits get(). For front ends
   * that answer a local hit without a promise (the agent's RESP server).
   */
  getLocal(key: string): KvEntry<V> | undefined {
    this.checkOpen();
    this.checkKey(key);
    if (this.options.readQuorum !== 1) return undefined;
    const rec = readLocal(this.ctx, key) ?? this.nearFor(key)?.get(key, this.options.clock.now());
    return rec ? this.entry(rec) : undefined;
  }

  async has(key: string, opts: ReadOptions = {}): Promise<boolean> {
    return (await this.getEntry(key, opts)) !== undefined;
  }

  /** Read several keys; with R=1 one request per owner carries all of that owner's keys. */
  async getMany(keys: readonly string[], opts: ReadOptions = {}): Promise<(V | undefined)[]> {
    this.checkOpen();
    for (const k of keys) this.checkKey(k);
    const recs = await readMany(this.ctx, keys, this.quorum(opts.r, this.options.readQuorum, 'r'));
    return recs.map((rec) => (rec && rec.value !== null ? this.decode(rec.value) : undefined));
  }

  async set(key: string, value: V, opts: SetOptions = {}): Promise<void> {
    await this.setMany([[key, value]], opts);
  }

  /** Write several keys; resolves once every one reached W owners, rejects ERR_QUORUM otherwise. */
  async setMany(entries: readonly (readonly [string, V])[], opts: SetOptions = {}): Promise<void> {
    this.checkOpen();
    const exp = this.expiryOf(opts.ttl);
    const w = this.quorum(opts.w, this.options.writeQuorum, 'w');
    const records: KvRecord[] = entries.map(([key, value]) => {
      this.checkKey(key);
      return this.record(key, this.encode(value), exp);
    });
    await this.write(records, w, 'set');
  }

  /** Delete a key (writes a tombstone). Resolves whether an acknowledging owner held a live value. */
  async delete(key: string, opts: WriteOptions = {}): Promise<boolean> {
    this.checkOpen();
    this.checkKey(key);
    const [r] = await this.write([this.record(key, null, 0)], this.quorum(opts.w, this.options.writeQuorum, 'w'), 'delete');
    return r!.existed;
  }

  /**
   * Give an existing key a new time to live (ms; 0 removes the expiry). Resolves false when the key
   * is absent. Read-then-write: a write racing with it may win or lose by version order.
   */
  async expire(key: string, ttl: number, opts: ReadOptions & WriteOptions = {}): Promise<boolean> {
    this.checkOpen();
    this.checkKey(key);
    const exp = this.expiryOf(ttl);
    const cur = await read(this.ctx, key, this.quorum(opts.r, this.options.readQuorum, 'r'));
    if (!cur || cur.value === null) return false;
    await this.write([this.record(key, cur.value, exp)], this.quorum(opts.w, this.options.writeQuorum, 'w'), 'expire');
    return true;
  }

  stats(): KvStats {
    return {
      ...this.store.stats(),
      members: this.ring().members.length,
      hints: this.hints.size,
      rangeBytesSent: this.transfer.bytesSent,
      rangeRecordsSent: this.transfer.recordsSent,
      antiEntropyRounds: this.antiEntropy.rounds,
      ...(this.near ? { nearCache: this.near.stats() } : {}),
    };
  }

  /** Run one anti-entropy round now (it also runs every antiEntropyInterval). */
  antiEntropyRound(): Promise<void> {
    return this.antiEntropy.round();
  }

  /** True while a range transfer is planned or running. */
  get rebalancing(): boolean {
    return this.transfer.busy;
  }

  /** The records this node holds (tombstones included); for tests and tools. */
  localRecords(): KvRecord[] {
    return [...this.store.allRecords()];
  }

  /** Stop serving: handlers off, timers stopped, this member unmarked (so others stop placing keys here). */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const off of this.unregister) off();
    this.hintTimer?.cancel();
    this.transfer.stop();
    this.antiEntropy.stop();
    if (!this.cluster.closed) {
      try {
        this.cluster.updateMeta({ [KV_MEMBER_META]: null });
      } catch {
        // the cluster is leaving
      }
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  // ---- internals -------------------------------------------------------------------------------

  private membershipChanged(): void {
    this.dirty = true;
    // Rebuild now (cheap when nothing relevant changed) so a range transfer is planned promptly.
    this.ring();
  }

  /** The near cache, when it is on and this node does not own `key` (an owner reads its own store). */
  private nearFor(key: string): NearCache | undefined {
    if (!this.near || this.ring().owners(key).includes(this.cluster.name)) return undefined;
    return this.near;
  }

  /**
   * Replicate, keeping the near caches right: this node's copy goes before and after (a read that
   * raced with the write may have filled it), and once W owners hold the write every other node is
   * told through the bus. A failed write is announced too, since it may have landed on some owners.
   */
  private async write(records: KvRecord[], w: number, op: 'set' | 'delete' | 'expire'): Promise<WriteResult[]> {
    const near = this.near;
    if (!near) return replicate(this.ctx, records, w, op);
    for (const rec of records) near.invalidate(rec.key);
    try {
      return await replicate(this.ctx, records, w, op);
    } finally {
      const nc = this.options.nearCache!;
      for (const rec of records) {
        near.invalidate(rec.key);
        if (!nc.bus) continue;
        try {
          nc.bus.publish(nc.prefix + rec.key);
        } catch {
          // A key the bus refuses (too long for it, bus closed): the other nodes' copies end at the ttl.
          this.ctx.metrics.increment('kv.near-cache.publish-failed');
        }
      }
    }
  }

  private entry(rec: KvRecord): KvEntry<V> {
    return { value: this.decode(rec.value!), expiresAt: rec.exp, version: { ts: rec.ts, node: rec.node } };
  }

  private ringMembers(): RingMember[] {
    const out: RingMember[] = [];
    for (const m of this.cluster.members({ state: ['alive', 'suspect'] })) {
      if (m.meta[KV_MEMBER_META] !== '1' && !(m.name === this.cluster.name && !this.isClosed)) continue;
      out.push({ name: m.name, zone: m.meta[this.options.zoneKey] ?? '' });
    }
    return out;
  }

  private record(key: string, value: Uint8Array | null, exp: number): KvRecord {
    return { key, value, exp, ts: this.hlc.now(), node: this.cluster.name };
  }

  private expiryOf(ttl: number | undefined): number {
    if (ttl === undefined || ttl === 0) return 0;
    if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0) throw new KvError('ERR_KV_ARGUMENT', `ttl must be a non-negative integer of milliseconds, got ${String(ttl)}`);
    return this.options.clock.now() + ttl;
  }

  private quorum(given: number | undefined, dflt: number, name: string): number {
    if (given === undefined) return dflt;
    if (!Number.isInteger(given) || given < 1 || given > this.options.replicas) throw new KvError('ERR_KV_ARGUMENT', `${name} must be an integer in 1..${this.options.replicas}`);
    return given;
  }

  private checkKey(key: string): void {
    if (typeof key !== 'string' || key.length === 0) throw new KvError('ERR_KEY', 'key must be a non-empty string');
    const max = this.options.maxKeyBytes;
    if (key.length > max || (key.length * 3 > max && enc.encode(key).length > max)) throw new KvError('ERR_KEY', `key longer than maxKeyBytes (${max})`);
  }

  private encode(value: V): Uint8Array {
    let bytes: unknown;
    if (this.options.valueCodec) {
      try {
        bytes = this.options.valueCodec.encode(value);
      } catch (err) {
        throw new KvError('ERR_KV_ARGUMENT', `value codec could not encode the value: ${(err as Error).message}`, { cause: err });
      }
    } else bytes = value;
    if (!(bytes instanceof Uint8Array)) throw new KvError('ERR_KV_ARGUMENT', 'value must be a Uint8Array (or pass a valueCodec)');
    if (bytes.length > this.options.maxValueBytes) throw new KvError('ERR_VALUE_TOO_LARGE', `value of ${bytes.length} bytes is over maxValueBytes (${this.options.maxValueBytes})`);
    return bytes;
  }

  private decode(bytes: Uint8Array): V {
    return (this.options.valueCodec ? this.options.valueCodec.decode(bytes) : bytes) as V;
  }

  private checkOpen(): void {
    if (this.isClosed) throw new KvError('ERR_KV_CLOSED', 'kv is closed');
    if (this.cluster.closed) throw new GrapevineError('ERR_CLOSED', 'cluster is closed');
  }
}
