/**
 * The publish side of the bus: checks a key, stamps it with the origin's HLC, lets it wait in the
 * batcher (pending-dedup, batch timer), and sends batches — numbered, logged for receivers that
 * miss them, each sized to ride one best-effort packet exactly.
 */
import { GrapevineError, runSoon, utf8Length, type Cluster, type HybridLogicalClock, type TimerHandle } from '@grapevine/core';
import { Batcher, estimateEntryBytes, type EventColumns, type PendingBatch } from './batcher.js';
import { BatchSizer } from './batch-sizer.js';
import type { MeshCounters } from './mesh-counters.js';
import type { ResolvedMeshOptions } from './options.js';
import type { OriginLog } from './origin-log.js';
import type { PacketFit } from './packet-fit.js';
import type { KeyVersions } from './versions.js';
import { MeshType, columnsToWire, eventAt, type WireEvent } from './wire.js';

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

/**
 * The version difference the size estimate assumes between consecutive events of a batch: 2^15
 * HLC ticks, 32 ms (msgpack: 3 bytes). A burst's differences are far smaller; a timer batch of a
 * slow publisher has larger ones, but then it is far from full.
 */
const VERSION_STEP = 2 ** 15;

export class Publisher {
  readonly batcher: Batcher;
  /**
   * Encoded bytes one bare event adds to a format 2 batch besides its key's own bytes: an empty
   * key and a version difference of VERSION_STEP, in the cluster's codec. A value or an ack adds
   * its index (indexBytes) and the value. Larger differences (keys published over 32 ms apart
   * into one batch) make a batch exceed its estimate; the exact check before sending trims it.
   */
  private readonly entryBase: number;
  private readonly indexBytes: number;
  private readonly type: number;
  /** Computes a bare batch's exact size when the codec is MessagePack (else batches are measured by encoding). */
  private readonly sizer: BatchSizer;
  private batchTimer: TimerHandle | undefined;
  /** A batchInterval-0 flush is queued for the end of this turn. */
  private soonPending = false;

  constructor(private readonly host: PublisherHost) {
    const { options: o, fit } = host;
    this.entryBase = Math.max(0, fit.measure([['', ''], [VERSION_STEP, VERSION_STEP]]) - fit.measure([[''], [VERSION_STEP]]));
    this.indexBytes = Math.max(0, fit.measure([10_000]) - fit.measure([]));
    const budget = o.batchBytes > 0 ? Math.min(o.batchBytes, fit.payloadBudget) : fit.payloadBudget;
    this.batcher = new Batcher({ size: o.batchSize, bytes: Math.max(1, budget) });
    this.type = o.typeBase + MeshType.batch;
    this.sizer = new BatchSizer(fit, this.type);
  }

  /**
   * Check `key` (throws the typed errors publish() documents), stamp it with the origin's HLC and
   * let it wait for its batch. No object is made per call: the batcher keeps columns. An aborted
   * `signal` refuses the publish; with `withdrawable`, a later abort withdraws it while it waits.
   */
  publish(key: string, hasValue: boolean, value: unknown, ack: boolean, signal: AbortSignal | undefined, withdrawable: boolean): void {
    if (typeof key !== 'string' || key.length === 0) throw new GrapevineError('ERR_INVALID_OPTION', 'mesh: key must be a non-empty string');
    const { options: o, counters } = this.host;
    const keyBytes = utf8Length(key);
    if (keyBytes > o.maxKeyBytes) throw new GrapevineError('ERR_TOO_LARGE', `mesh: key longer than maxKeyBytes (${o.maxKeyBytes})`);
    if (signal?.aborted) throw new GrapevineError('ERR_ABORTED', 'aborted');
    const batcher = this.batcher;
    let bytes = estimateEntryBytes(this.entryBase, keyBytes, hasValue, value, this.host.fit.measure) + (hasValue ? this.indexBytes : 0) + (ack ? this.indexBytes + 1 : 0);
    if (bytes > batcher.limits.bytes) bytes = this.exactBytes(key, hasValue, value);
    const version = this.host.hlc.now();
    if (batcher.wouldOverflow(key, bytes)) this.flush(undefined);
    // This node's own write is the newest it knows for the key: an older write from another
    // origin that arrives later is stale here too (with deliverLocal, delivery records it).
    if (!o.deliverLocal) this.host.versions.admit(key, version);
    const owner = signal && withdrawable ? {} : undefined;
    const merged = batcher.add(key, version, hasValue, value, ack, bytes, owner, keyBytes);
    counters.values.published++;
    if (merged) counters.values.merged++;
    else if (owner) this.withdrawOnAbort(signal!, key, owner);
    if (batcher.full()) this.flush(undefined);
    else if (!this.batchTimer && !this.soonPending) this.arm();
  }

  // The rare paths of publish() live apart, so the hot one stays small for the JIT (a larger
  // publish was recompiled several times in the enqueue bench's first 2,000,000 calls).

  /** An event the estimate put over the packet: measure it exactly before refusing. */
  private exactBytes(key: string, hasValue: boolean, value: unknown): number {
    const limit = this.batcher.limits.bytes;
    const bytes = this.host.fit.measure(hasValue ? [key, Number.MAX_SAFE_INTEGER, 1, value] : [key, Number.MAX_SAFE_INTEGER, 1]) + 2;
    if (bytes > limit) throw new GrapevineError('ERR_TOO_LARGE', `mesh: key and value take ${bytes} bytes; one event must fit one packet (${limit} bytes)`);
    return bytes;
  }

  private withdrawOnAbort(signal: AbortSignal, key: string, owner: object): void {
    signal.addEventListener('abort', () => {
      if (this.batcher.withdraw(key, owner)) this.host.counters.count('grapevine.mesh.withdrawn', 1);
    }, { once: true });
  }

  /** Keys wait: send them after batchInterval, or with batchInterval 0 at the end of this turn. */
  private arm(): void {
    const o = this.host.options;
    if (o.batchInterval === 0) {
      // "No wait": send when this turn's publishes are in, without a host timer's 1 ms minimum.
      this.soonPending = true;
      runSoon(o.clock, () => {
        this.soonPending = false;
        if (this.batcher.size > 0) this.flush(undefined);
      });
    } else {
      this.batchTimer = o.clock.setTimer(() => {
        this.batchTimer = undefined;
        this.flush(undefined);
      }, o.batchInterval);
    }
  }

  /**
   * Send every waiting key now. Returns the sequence number each key got. Batches are split so
   * each fits one best-effort packet exactly (measured with the cluster's own codec and envelope).
   * The batcher's own flushes pass no map: nobody reads the numbers, and a Map entry per key is
   * a noticeable share of a publish.
   */
  flush(out: Map<string, number> | undefined = new Map()): Map<string, number> {
    this.cancelTimer();
    while (this.batcher.size > 0) {
      const taken = this.batcher.take();
      const n = this.sendBatch(taken, out);
      // What did not fit goes back to the front, to lead the next batch instead of leaving
      // alone in a small packet of its own.
      if (n < taken.keys.length) this.batcher.putBack(taken, n);
    }
    return out ?? new Map();
  }

  /** Send the longest prefix of `batch` that fits one packet (at least one event); returns its length. */
  private sendBatch(batch: PendingBatch, out: Map<string, number> | undefined): number {
    const { cluster, fit, log, counters, epoch, options: o } = this.host;
    const type = this.type;
    const first = log.head + 1;
    const count = batch.keys.length;
    // A bare batch (no acks, no values: the bulk of invalidations) is cut by arithmetic to the
    // longest prefix that fits; any other is tried whole. Either way the batch is encoded once per
    // try (prepare: its size compared with the packet's room) and the last try is what is sent,
    // not encoded again. The batcher's estimate is an upper bound for plain keys, so this rarely
    // splits.
    let n = !batch.flags && this.sizer.exact ? this.sizer.prefix(epoch, first, batch.keyBytes, batch.versions, count, fit.maxMessageBytes) : -1;
    if (n <= 0) n = count;
    let prepared = fit.prepare(type, columnsToWire(epoch, first, batch, n));
    let bytes = prepared.bytes;
    while (n > 1 && bytes > fit.maxMessageBytes) {
      // The estimate assumed small version differences; cut in proportion to the excess.
      n = Math.max(1, Math.min(n - 1, Math.floor((n * fit.maxMessageBytes) / bytes)));
      prepared = fit.prepare(type, columnsToWire(epoch, first, batch, n));
      bytes = prepared.bytes;
    }
    if (n === 1 && bytes > fit.maxMessageBytes) counters.count('grapevine.mesh.oversize', 1);
    // The log keeps the batch's columns for fetches (the first n of them: the rest goes back);
    // not the batcher's bookkeeping columns, which can then die young instead of being copied
    // through the collector's young generation for as long as the log holds the batch.
    log.appendBatch(first, n === count ? { keys: batch.keys, versions: batch.versions, flags: batch.flags, values: batch.values } : sliceColumns(batch, n), n, o.clock.now());
    if (out) for (let i = 0; i < n; i++) out.set(batch.keys[i]!, first + i);
    counters.values.batches++;
    counters.values.eventsSent += n;
    counters.values.bytesSent += bytes;
    if (o.deliverLocal) for (let i = 0; i < n; i++) this.host.deliverLocal(first + i, eventAt(batch, i));
    try {
      prepared.send();
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

/** The first `n` events of `cols`, copied (a batch split to fit a packet). */
function sliceColumns(cols: EventColumns, n: number): EventColumns {
  return { keys: cols.keys.slice(0, n), versions: cols.versions.slice(0, n), flags: cols.flags?.slice(0, n), values: cols.values?.slice(0, n) };
}
