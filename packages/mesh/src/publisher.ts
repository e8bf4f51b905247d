/**
 * The publish side of the bus: checks a key, stamps it with the origin's HLC, lets it wait in the
 * batcher (pending-dedup, batch timer), and sends batches — numbered, logged for receivers that
 * miss them, each sized to ride one best-effort packet exactly.
 */
import { GrapevineError, utf8Length, type Cluster, type HybridLogicalClock, type TimerHandle } from '@grapevine/core';
import { Batcher, estimateEntryBytes, type PendingEntry } from './batcher.js';
import type { MeshCounters } from './mesh-counters.js';
import type { ResolvedMeshOptions } from './options.js';
import type { OriginLog } from './origin-log.js';
import type { PacketFit } from './packet-fit.js';
import type { KeyVersions } from './versions.js';
import { MeshType, batchToWire, type WireEvent } from './wire.js';

export interface PublisherHost {
  readonly cluster: Cluster<unknown>;
  readonly options: ResolvedMeshOptions;
  readonly fit: PacketFit;
  readonly log: OriginLog;
  readonly versions: KeyVersions;
  readonly hlc: HybridLogicalClock;
  readonly counters: MeshCounters;
  /** This run's epoch (the cluster instance). */
  readonly epoch: number;
  /** Own events, for the deliverLocal option. */
  deliverLocal(seq: number, e: WireEvent): void;
}

export type Entry = Omit<PendingEntry, 'owner'>;

export class Publisher {
  readonly batcher: Batcher;
  /** Encoded bytes of an event with an empty key and the largest version, in the cluster's codec. */
  private readonly entryBase: number;
  private readonly type: number;
  private batchTimer: TimerHandle | undefined;

  constructor(private readonly host: PublisherHost) {
    const { options: o, fit } = host;
    this.entryBase = fit.measure(['', Number.MAX_SAFE_INTEGER, 1]);
    const budget = o.batchBytes > 0 ? Math.min(o.batchBytes, fit.payloadBudget) : fit.payloadBudget;
    this.batcher = new Batcher({ size: o.batchSize, bytes: Math.max(1, budget) });
    this.type = o.typeBase + MeshType.batch;
  }

  /** A checked, versioned entry for `key` (throws the typed errors publish() documents). */
  entry(key: string, hasValue: boolean, value: unknown, ack: boolean, signal: AbortSignal | undefined): Entry {
    if (typeof key !== 'string' || key.length === 0) throw new GrapevineError('ERR_INVALID_OPTION', 'mesh: key must be a non-empty string');
    const max = this.host.options.maxKeyBytes;
    const keyBytes = utf8Length(key);
    if (keyBytes > max) throw new GrapevineError('ERR_TOO_LARGE', `mesh: key longer than maxKeyBytes (${max})`);
    if (signal?.aborted) throw new GrapevineError('ERR_ABORTED', 'aborted');
    const { fit } = this.host;
    let bytes = estimateEntryBytes(this.entryBase, keyBytes, hasValue, value, fit.measure);
    if (bytes > this.batcher.limits.bytes) {
      // The estimate is an upper bound; measure exactly before refusing.
      bytes = fit.measure(hasValue ? [key, Number.MAX_SAFE_INTEGER, 1, value] : [key, Number.MAX_SAFE_INTEGER, 1]) + 2;
      if (bytes > this.batcher.limits.bytes) {
        throw new GrapevineError('ERR_TOO_LARGE', `mesh: key and value take ${bytes} bytes; one event must fit one packet (${this.batcher.limits.bytes} bytes)`);
      }
    }
    return { key, version: this.host.hlc.now(), hasValue, value, ack, bytes };
  }

  enqueue(e: Entry, signal: AbortSignal | undefined): void {
    const { options: o, counters } = this.host;
    if (this.batcher.wouldOverflow(e.key, e.bytes)) this.flush();
    // This node's own write is the newest it knows for the key: an older write from another
    // origin that arrives later is stale here too (with deliverLocal, delivery records it).
    if (!o.deliverLocal) this.host.versions.admit(e.key, e.version);
    const owner = signal ? {} : undefined;
    const merged = this.batcher.add(e, owner);
    counters.values.published++;
    if (merged) counters.values.merged++;
    if (signal && owner && !merged) {
      signal.addEventListener('abort', () => {
        if (this.batcher.withdraw(e.key, owner)) counters.count('grapevine.mesh.withdrawn', 1);
      }, { once: true });
    }
    if (this.batcher.full()) this.flush();
    else if (!this.batchTimer) {
      this.batchTimer = o.clock.setTimer(() => {
        this.batchTimer = undefined;
        this.flush();
      }, o.batchInterval);
    }
  }

  /**
   * Send every waiting key now. Returns the sequence number each key got. Batches are split so
   * each fits one best-effort packet exactly (measured with the cluster's own codec and envelope).
   */
  flush(): Map<string, number> {
    this.cancelTimer();
    const out = new Map<string, number>();
    while (this.batcher.size > 0) {
      let rest = this.batcher.take();
      while (rest.length > 0) {
        const n = this.sendBatch(rest, out);
        rest = n === rest.length ? [] : rest.slice(n);
      }
    }
    return out;
  }

  /** Send the longest prefix of `entries` that fits one packet (at least one entry); returns its length. */
  private sendBatch(entries: readonly PendingEntry[], out: Map<string, number>): number {
    const { cluster, fit, log, counters, epoch, options: o } = this.host;
    const type = this.type;
    const first = log.head + 1;
    const events: WireEvent[] = new Array<WireEvent>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const p = entries[i]!;
      const ev: WireEvent = { key: p.key, version: p.version, ack: p.ack, hasValue: p.hasValue };
      if (p.hasValue) ev.value = p.value;
      events[i] = ev;
    }
    let n = events.length;
    let payload = batchToWire({ epoch, first, events });
    // The batcher's estimate is an upper bound for plain keys, so this rarely splits.
    while (n > 1 && !fit.fits(type, payload)) {
      n = Math.ceil(n / 2);
      payload = batchToWire({ epoch, first, events: events.slice(0, n) });
    }
    if (n === 1 && !fit.fits(type, payload)) counters.count('grapevine.mesh.oversize', 1);
    const now = o.clock.now();
    for (let i = 0; i < n; i++) {
      const p = entries[i]!;
      log.append({ key: p.key, version: p.version, ack: p.ack, hasValue: p.hasValue, value: p.value, seq: first + i, at: now });
      out.set(p.key, first + i);
    }
    counters.values.batches++;
    counters.values.eventsSent += n;
    counters.values.bytesSent += fit.messageBytes(type, payload);
    if (o.deliverLocal) for (let i = 0; i < n; i++) this.host.deliverLocal(first + i, events[i]!);
    try {
      cluster.broadcast(type, payload);
    } catch (err) {
      // The cluster closed under us: the events stay in the log for whoever asks.
      cluster.logger.warn({ err }, 'mesh batch not broadcast');
    }
    return n;
  }

  private cancelTimer(): void {
    this.batchTimer?.cancel();
    this.batchTimer = undefined;
  }

  close(): void {
    this.cancelTimer();
    this.batcher.clear();
  }
}
