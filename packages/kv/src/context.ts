/**
 * What the KV's parts share: the cluster, the resolved options, the local store, the current ring
 * and the clock. Each part (coordinator, read repair, handoff, range transfer, anti-entropy) is a
 * set of functions over this context, so each lives in its own file and is tested alone.
 */
import type { Cluster, HybridLogicalClock, Metrics } from '@grapevine/core';
import type { KvTypes } from './message-types.js';
import type { OwnerBatches } from './owner-batches.js';
import type { ResolvedKvOptions } from './options.js';
import type { ReplicaStore } from './replica-store.js';
import type { Ring } from './ring.js';

export interface KvContext {
  readonly cluster: Cluster<unknown>;
  readonly opts: ResolvedKvOptions;
  readonly store: ReplicaStore;
  readonly types: KvTypes;
  readonly hlc: HybridLogicalClock;
  readonly metrics: Metrics;
  /** This node's name. */
  readonly self: string;
  /** The current placement (rebuilt lazily from membership). */
  ring(): Ring;
  /** Wall time (the options' clock). */
  now(): number;
  /** The coordinator's per-owner request batches (owner-batches.ts). */
  readonly batches: OwnerBatches;
  /** Remember a write an owner did not acknowledge, to replay it later (handoff.ts). */
  hint(owner: string, rec: import('./record.js').KvRecord): void;
  readonly closed: boolean;
}

/** One line for a failed call to an owner. */
export function describeFailure(owner: string, err: unknown): string {
  const e = err as { code?: unknown; remoteCode?: unknown; message?: unknown };
  const code = typeof e?.remoteCode === 'string' ? e.remoteCode : typeof e?.code === 'string' ? e.code : 'ERR_UNKNOWN';
  return `${owner}: ${code}`;
}

/** Did the owner refuse on purpose (a KV error from its handler) rather than fail to answer? */
export function isRefusal(err: unknown): boolean {
  const e = err as { code?: unknown; remoteCode?: unknown };
  return e?.code === 'ERR_REMOTE' && typeof e.remoteCode === 'string' && e.remoteCode.startsWith('ERR_') && e.remoteCode !== 'ERR_HANDLER';
}
