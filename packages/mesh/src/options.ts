/**
 * The bus's options: every knob with its default (the same table is in docs/configuration.md and
 * every bound in docs/limits.md), and the one function that checks a user's options and fills in
 * the defaults, so nothing downstream has to guess.
 */
import { FIRST_USER_TYPE, GrapevineError, MAX_USER_TYPE, type Clock } from '@grapevine/core';

/** How many message types the bus takes from `typeBase` (typeBase .. typeBase + 15). */
export const MESH_TYPE_BLOCK = 16;

export interface MeshOptions {
  /** First of the 16 message types the bus registers. Default 65000 (65000–65015). */
  typeBase?: number;
  /** Longest a key waits in the batcher, ms. Default 100. */
  batchInterval?: number;
  /** Keys per batch: a batch is sent as soon as it holds this many. Default 20. */
  batchSize?: number;
  /**
   * Bytes of one batch message at most; also capped so that a batch always fits one best-effort
   * packet of the cluster (packet budget minus envelope). Default 0 = exactly that packet limit.
   */
  batchBytes?: number;
  /** How long an origin keeps its sent events for receivers that missed them, ms. Default 60,000. */
  retentionWindow?: number;
  /** How many sent events an origin keeps at most. Default 10,000. */
  retentionEvents?: number;
  /** How long a receiver waits for a missing event to arrive by gossip before fetching it, ms. Default 250. */
  recoveryDelay?: number;
  /** Longest a fetch from an origin may take before it is retried, ms. Default 2,000. */
  fetchTimeout?: number;
  /** Events per fetch reply at most. Default 500. */
  fetchEvents?: number;
  /** How often an origin that published within the retention window announces its head, ms. Default 1,000. */
  headInterval?: number;
  /**
   * When a member goes suspect, dead, left or restarts, the origin re-offers it the events of this
   * many ms before the change (it may have stopped hearing before anyone noticed). Default 15,000.
   */
  rejoinLookback?: number;
  /** Out-of-order events a receiver holds per origin while it waits for the missing ones. Default 10,000. */
  maxHeldEvents?: number;
  /** Keys whose last delivered version a receiver remembers (to drop stale events); at least the newest half always. Default 100,000. */
  maxTrackedKeys?: number;
  /** Origins a receiver tracks; the least recently heard is forgotten first. Default 10,000. */
  maxOrigins?: number;
  /** Events buffered per async-iterator subscriber before it gets an `overflow`. Default 1,024. */
  subscriberBuffer?: number;
  /** Key length in UTF-8 bytes at most. Default 512. */
  maxKeyBytes?: number;
  /** publishAndAwait waiting at once at most. Default 10,000. */
  maxAwaiting?: number;
  /** publishAndAwait timeout, ms. Default 5,000. */
  awaitTimeout?: number;
  /** The metadata key that names a member's zone for publishAndAwait({ zones }). Default 'zone'. */
  zoneKey?: string;
  /** isHealthy() is true for a node alone in its cluster. Default false. */
  allowAlone?: boolean;
  /** Deliver this node's own publishes to its own subscribers too. Default false (like Warp Mesh). */
  deliverLocal?: boolean;
  /** The clock for batching and retention; default the cluster's (virtual in simulations). */
  clock?: Clock;
}

export interface ResolvedMeshOptions extends Required<Omit<MeshOptions, 'clock'>> {
  clock: Clock;
}

export const MESH_DEFAULTS: Readonly<Omit<ResolvedMeshOptions, 'clock'>> = Object.freeze({
  typeBase: 65000,
  batchInterval: 100,
  batchSize: 20,
  batchBytes: 0,
  retentionWindow: 60_000,
  retentionEvents: 10_000,
  recoveryDelay: 250,
  fetchTimeout: 2_000,
  fetchEvents: 500,
  headInterval: 1_000,
  rejoinLookback: 15_000,
  maxHeldEvents: 10_000,
  maxTrackedKeys: 100_000,
  maxOrigins: 10_000,
  subscriberBuffer: 1_024,
  maxKeyBytes: 512,
  maxAwaiting: 10_000,
  awaitTimeout: 5_000,
  zoneKey: 'zone',
  allowAlone: false,
  deliverLocal: false,
});

function bad(msg: string): never {
  throw new GrapevineError('ERR_INVALID_OPTION', `mesh: ${msg}`);
}

export function resolveMeshOptions(opts: MeshOptions | undefined, clusterClock: Clock): ResolvedMeshOptions {
  const o = opts ?? {};
  if (typeof o !== 'object') bad('options must be an object');
  const known = new Set([...Object.keys(MESH_DEFAULTS), 'clock']);
  for (const k of Object.keys(o)) if (!known.has(k)) bad(`unknown option "${k}"`);
  const r = { ...MESH_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as ResolvedMeshOptions;
  r.clock = o.clock ?? clusterClock;
  const int = (name: keyof typeof MESH_DEFAULTS, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    const v = r[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) bad(`${name} must be an integer from ${min} to ${max}`);
  };
  int('typeBase', FIRST_USER_TYPE, MAX_USER_TYPE - MESH_TYPE_BLOCK + 1);
  int('batchInterval', 0, 60_000);
  int('batchSize', 1, 10_000);
  int('batchBytes', 0, 64 * 1024);
  int('retentionWindow', 0);
  int('retentionEvents', 0, 10_000_000);
  int('recoveryDelay', 0);
  int('fetchTimeout', 1);
  int('fetchEvents', 1, 100_000);
  int('headInterval', 1);
  int('rejoinLookback', 0);
  int('maxHeldEvents', 1);
  int('maxTrackedKeys', 0);
  int('maxOrigins', 1);
  int('subscriberBuffer', 1);
  int('maxKeyBytes', 1, 60_000);
  int('maxAwaiting', 1);
  int('awaitTimeout', 1);
  if (typeof r.zoneKey !== 'string' || r.zoneKey.length === 0) bad('zoneKey must be a non-empty string');
  if (typeof r.allowAlone !== 'boolean') bad('allowAlone must be a boolean');
  if (typeof r.deliverLocal !== 'boolean') bad('deliverLocal must be a boolean');
  return r;
}
