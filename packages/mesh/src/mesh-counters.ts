/**
 * The bus's counters. The hot ones (one per delivered event) stay here as plain fields and reach
 * the cluster's metrics sink once a second (sync), so a million deliveries do not cost a million
 * map updates in the sink; rare ones (`grapevine.mesh.<anything else>`) go to the sink at once.
 */
import type { Metrics } from '@grapevine/core';

export interface MeshMetrics {
  /** publish() and publishAndAwait() calls accepted. */
  published: number;
  /** Publishes merged into a key already waiting (pending-dedup). */
  merged: number;
  /** Batch messages broadcast. */
  batches: number;
  /** Events sent (keys in batches). */
  eventsSent: number;
  /** Encoded bytes of the batch messages this node broadcast. */
  bytesSent: number;
  /** Events from other origins delivered in order to this node (whether or not anyone subscribed). */
  delivered: number;
  /** Copies of events already delivered, dropped. */
  duplicates: number;
  /** Events older than the version already delivered for their key, dropped. */
  stale: number;
  /** Gaps reported (ranges an origin could no longer resend). */
  gaps: number;
  /** Events lost by slow iterator subscribers (each such loss raised an `overflow`). */
  overflowed: number;
  /** Fetches sent to origins, and events recovered by them. */
  fetches: number;
  fetchedEvents: number;
  /** Inbound mesh messages that failed validation. */
  invalid: number;
}

const PREFIX = 'grapevine.mesh.';

export class MeshCounters {
  readonly values: MeshMetrics = {
    published: 0, merged: 0, batches: 0, eventsSent: 0, bytesSent: 0, delivered: 0, duplicates: 0, stale: 0,
    gaps: 0, overflowed: 0, fetches: 0, fetchedEvents: 0, invalid: 0,
  };
  /** Counter name → the field it feeds (computed once per name), or null. */
  private readonly fieldOf = new Map<string, keyof MeshMetrics | null>();
  /** What of `values` has been added to the sink already. */
  private readonly synced: Partial<Record<keyof MeshMetrics, number>> = {};

  constructor(private readonly sink: Metrics) {}

  /** Count `by` of `grapevine.mesh.<name>`. */
  count(name: string, by = 1): void {
    let field = this.fieldOf.get(name);
    if (field === undefined) {
      const short = name.slice(PREFIX.length).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      field = short in this.values ? (short as keyof MeshMetrics) : null;
      this.fieldOf.set(name, field);
    }
    if (field !== null) this.values[field] += by;
    else this.sink.increment(name, by);
  }

  /** Add what was counted since the last call to the sink (`grapevine.mesh.*`). */
  sync(): void {
    for (const k of Object.keys(this.values) as (keyof MeshMetrics)[]) {
      const v = this.values[k];
      const d = v - (this.synced[k] ?? 0);
      if (d === 0) continue;
      this.synced[k] = v;
      this.sink.increment(`${PREFIX}${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, d);
    }
  }
}
