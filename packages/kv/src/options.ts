/**
 * Every option of the KV, with its default. docs/configuration.md (the KV section) and
 * docs/limits.md list the same names; resolveKvOptions checks each one.
 */
import { systemClock, type Clock, type Codec } from '@grapevine/core';
import { KvError } from './errors.js';
import { nearCacheDefaults, type NearCacheOptions, type ResolvedNearCache } from './near-cache.js';

/** First of the 16 message types the KV uses by default (65016..65031; the mesh bus takes 65000..65015). */
export const DEFAULT_KV_TYPE_BASE = 65_016;
/** How many consecutive message types the KV registers from `messageTypeBase`. */
export const KV_TYPE_COUNT = 16;

export interface KvOptions {
  /** First of KV_TYPE_COUNT consecutive message types (default 65016, so 65016..65031). */
  messageTypeBase?: number;
  /** Replication factor RF: owners per key (default 3). */
  replicas?: number;
  /** Write quorum W: owner acknowledgements a set/delete waits for (default 2). */
  writeQuorum?: number;
  /** Read quorum R: owner answers a get waits for (default 1). */
  readQuorum?: number;
  /** Fixed partitions keys hash into (default 8192). Every node of a cluster must use the same value. */
  partitions?: number;
  /** Metadata key holding a node's zone, for zone-aware placement (default 'zone'). */
  zoneKey?: string;
  /** Longest key, UTF-8 bytes (default 1024). */
  maxKeyBytes?: number;
  /** Largest value after encoding, bytes (default 1 MiB). */
  maxValueBytes?: number;
  /** Memory budget of this node's replica store, bytes (default 256 MiB); LRU eviction beyond it. */
  maxBytes?: number;
  /** Bytes accounted per entry on top of its key and value (default 352: the measured heap cost of an entry beyond them, bench/dist/kv-api.js). */
  entryOverheadBytes?: number;
  /** Timeout of each request to an owner, ms (default 2000). */
  requestTimeout?: number;
  /** Most hinted writes held for owners that could not be reached (default 100,000); oldest dropped beyond it (counted). */
  maxHints?: number;
  /** How long a hint is kept for an unreachable owner, ms (default 60,000). */
  hintTtl?: number;
  /** How often hints are replayed to their owners, ms (default 1000). */
  hintReplayInterval?: number;
  /** How often this node runs an anti-entropy round with one other replica, ms (default 10,000; 0 = never). */
  antiEntropyInterval?: number;
  /** Most partitions compared in full (key lists) in one anti-entropy round (default 64). */
  antiEntropyMaxPartitions?: number;
  /**
   * Youngest a tombstone may be before it is collected, ms (default: hintTtl). Collection also
   * needs every current owner to hold the tombstone; the age bound covers hints still in flight.
   */
  tombstoneMinAge?: number;
  /** Wait after a membership change before moving ranges, so a burst of changes moves data once, ms (default 250). */
  rebalanceDelay?: number;
  /** Most range transfers (streams) this node runs at once (default 4). */
  maxTransfers?: number;
  /** Most records (or keys) the coordinator sends one owner in one batched request (default 512; 1..100,000). */
  batchMaxRecords?: number;
  /** Most bytes (keys and values) in one batched request to an owner (default 1 MiB); a larger single record goes alone. */
  batchMaxBytes?: number;
  /**
   * How a batch is put off to the end of the current turn of the event loop (default: setImmediate
   * with the system clock; a zero-delay timer of `clock` otherwise, so a simulation stays
   * deterministic). See owner-batches.ts.
   */
  defer?: (fn: () => void) => void;
  /**
   * Near cache of values this node read from other owners (near-cache.ts): `true` for the
   * defaults, or its options. Off by default.
   */
  nearCache?: boolean | NearCacheOptions;
  /** Value codec: values are Uint8Array unless a codec is given (e.g. jsonCodec or msgpackCodec). */
  valueCodec?: Pick<Codec, 'encode' | 'decode'>;
  /** Wall clock for TTLs and the HLC (default the system clock; a simulation passes its virtual clock). */
  clock?: Clock;
}

export interface ResolvedKvOptions extends Required<Omit<KvOptions, 'valueCodec' | 'tombstoneMinAge' | 'nearCache'>> {
  tombstoneMinAge: number;
  nearCache: ResolvedNearCache | undefined;
  valueCodec: Pick<Codec, 'encode' | 'decode'> | undefined;
}

export const kvDefaults = {
  messageTypeBase: DEFAULT_KV_TYPE_BASE,
  replicas: 3,
  writeQuorum: 2,
  readQuorum: 1,
  partitions: 8192,
  zoneKey: 'zone',
  maxKeyBytes: 1024,
  maxValueBytes: 1024 * 1024,
  maxBytes: 256 * 1024 * 1024,
  entryOverheadBytes: 352,
  requestTimeout: 2000,
  maxHints: 100_000,
  hintTtl: 60_000,
  hintReplayInterval: 1000,
  antiEntropyInterval: 10_000,
  antiEntropyMaxPartitions: 64,
  rebalanceDelay: 250,
  maxTransfers: 4,
  batchMaxRecords: 512,
  batchMaxBytes: 1024 * 1024,
} as const;

function int(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new KvError('ERR_KV_ARGUMENT', `option ${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

/** End of this turn: setImmediate on the real clock (a zero timeout is clamped to 1 ms), the clock's own timer otherwise. */
function defaultDefer(clock: Clock): (fn: () => void) => void {
  const si = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  if (clock === systemClock && si) return (fn) => void si(fn);
  return (fn) => void clock.setTimer(fn, 0);
}

function resolveNearCache(n: boolean | NearCacheOptions | undefined): ResolvedNearCache | undefined {
  if (n === undefined || n === false) return undefined;
  const o: NearCacheOptions = n === true ? {} : n;
  if (typeof o !== 'object' || o === null) throw new KvError('ERR_KV_ARGUMENT', 'option nearCache must be a boolean or an object');
  const bus = o.bus;
  if (bus !== undefined && (typeof bus.publish !== 'function' || typeof bus.subscribe !== 'function')) {
    throw new KvError('ERR_KV_ARGUMENT', 'option nearCache.bus must have publish(key) and subscribe({ prefix }, fn)');
  }
  const prefix = o.prefix ?? nearCacheDefaults.prefix;
  if (typeof prefix !== 'string') throw new KvError('ERR_KV_ARGUMENT', 'option nearCache.prefix must be a string');
  return {
    maxEntries: int('nearCache.maxEntries', o.maxEntries ?? nearCacheDefaults.maxEntries, 1),
    maxBytes: int('nearCache.maxBytes', o.maxBytes ?? nearCacheDefaults.maxBytes, 1024),
    ttl: int('nearCache.ttl', o.ttl ?? nearCacheDefaults.ttl, 1),
    bus,
    prefix,
  };
}

export function resolveKvOptions(opts: KvOptions = {}): ResolvedKvOptions {
  const o = { ...kvDefaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as KvOptions & typeof kvDefaults;
  const replicas = int('replicas', o.replicas, 1, 16);
  const r: ResolvedKvOptions = {
    messageTypeBase: int('messageTypeBase', o.messageTypeBase, 128, 65_536 - KV_TYPE_COUNT),
    replicas,
    writeQuorum: int('writeQuorum', o.writeQuorum, 1, replicas),
    readQuorum: int('readQuorum', o.readQuorum, 1, replicas),
    partitions: int('partitions', o.partitions, 1, 1 << 20),
    zoneKey: typeof o.zoneKey === 'string' && o.zoneKey.length > 0 ? o.zoneKey : (() => { throw new KvError('ERR_KV_ARGUMENT', 'option zoneKey must be a non-empty string'); })(),
    maxKeyBytes: int('maxKeyBytes', o.maxKeyBytes, 1, 65_535),
    maxValueBytes: int('maxValueBytes', o.maxValueBytes, 0, 64 * 1024 * 1024),
    maxBytes: int('maxBytes', o.maxBytes, 1024),
    entryOverheadBytes: int('entryOverheadBytes', o.entryOverheadBytes, 0),
    requestTimeout: int('requestTimeout', o.requestTimeout, 1),
    maxHints: int('maxHints', o.maxHints, 0),
    hintTtl: int('hintTtl', o.hintTtl, 1),
    hintReplayInterval: int('hintReplayInterval', o.hintReplayInterval, 1),
    antiEntropyInterval: int('antiEntropyInterval', o.antiEntropyInterval, 0),
    antiEntropyMaxPartitions: int('antiEntropyMaxPartitions', o.antiEntropyMaxPartitions, 1),
    tombstoneMinAge: int('tombstoneMinAge', o.tombstoneMinAge ?? o.hintTtl, 0),
    rebalanceDelay: int('rebalanceDelay', o.rebalanceDelay, 0),
    maxTransfers: int('maxTransfers', o.maxTransfers, 1, 64),
    batchMaxRecords: int('batchMaxRecords', o.batchMaxRecords, 1, 100_000),
    batchMaxBytes: int('batchMaxBytes', o.batchMaxBytes, 1),
    defer: typeof o.defer === 'function' ? o.defer : defaultDefer(o.clock ?? systemClock),
    nearCache: resolveNearCache(o.nearCache),
    valueCodec: o.valueCodec,
    clock: o.clock ?? systemClock,
  };
  return r;
}
