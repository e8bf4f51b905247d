/**
 * The bus's API: createMesh(cluster, options) → MeshBus. It binds the parts to a core Cluster
 * through its public messaging API (handle, handleRequest, broadcast, sendTo, request, members,
 * events), so it runs the same on real sockets and in the simulator: the publish side
 * (publisher.ts: batching, numbering, the origin log), the receive side (recovery.ts: order, holes,
 * fetches, gaps), the origin's answers to fetches (fetch-server.ts), subscriptions, acknowledgement
 * waiters and counters (mesh-counters.ts). docs/mesh.md states what it guarantees.
 */
import { GrapevineError, HybridLogicalClock, type Cluster, type MemberEvent, type TimerHandle } from '@grapevine/core';
import { AckWaiters, type AckResult } from './await-acks.js';
import { FetchServer } from './fetch-server.js';
import { MeshCounters, type MeshMetrics } from './mesh-counters.js';
import { resolveMeshOptions, type MeshOptions, type ResolvedMeshOptions } from './options.js';
import { OriginLog } from './origin-log.js';
import { packetFit, type PacketFit } from './packet-fit.js';
import { Publisher } from './publisher.js';
import { TurnClock } from './turn-clock.js';
import { Recovery } from './recovery.js';
import { RejoinMarks } from './rejoin-marks.js';
import { Subscriptions, type MeshEvent, type SubscribeOptions, type SubscribeTarget, type Subscription } from './subscriptions.js';
import { KeyVersions } from './versions.js';
import { ACK, HAS_VALUE, type EventColumns } from './batcher.js';
import { MeshType, isUnknownBatchFormat, fetchReplyToWire, fetchToWire, parseAck, parseBatchColumns, parseFetch, parseFetchReply, parseHead, type FetchReply, type FetchReq, type WireEvent } from './wire.js';

export type { MeshMetrics } from './mesh-counters.js';

export interface PublishOptions {
  /** Sent with the invalidation so subscribers may refresh instead of re-reading. */
  value?: unknown;
  /** Withdraw the publish if it aborts before its batch leaves. */
  signal?: AbortSignal;
}

export interface PublishAndAwaitOptions extends PublishOptions {
  /** Distinct subscribing members that must acknowledge. Default 1. */
  replicas?: number;
  /** Distinct zones (member metadata `zoneKey`) among them. Default 0. */
  zones?: number;
  /** ms; default the awaitTimeout option (5 s). */
  timeout?: number;
}

export class MeshBus {
  readonly options: ResolvedMeshOptions;
  private readonly fit: PacketFit;
  private readonly log: OriginLog;
  private readonly marks: RejoinMarks;
  private readonly publisher: Publisher;
  private readonly fetchServer: FetchServer;
  private readonly recovery: Recovery;
  private readonly subs: Subscriptions;
  private readonly versions: KeyVersions;
  private readonly waiters: AckWaiters;
  private readonly hlc: HybridLogicalClock;
  private readonly counters: MeshCounters;
  private readonly epoch: number;
  private readonly startedAt: number;
  private readonly unregister: (() => void)[] = [];
  private ticker: TimerHandle | undefined;
  private closedFlag = false;

  constructor(readonly cluster: Cluster<unknown>, opts?: MeshOptions) {
    if (!cluster || typeof cluster.handle !== 'function') throw new GrapevineError('ERR_INVALID_OPTION', 'mesh: createMesh needs a started Cluster');
    if (cluster.closed) throw new GrapevineError('ERR_CLOSED', 'cluster is closed');
    const o = resolveMeshOptions(opts, cluster.clock);
    this.options = o;
    this.counters = new MeshCounters(cluster.metrics);
    this.fit = packetFit(cluster);
    this.log = new OriginLog(o.retentionEvents, o.retentionWindow);
    this.marks = new RejoinMarks(o.maxOrigins, o.rejoinLookback, (t) => this.log.seqBefore(t));
    this.versions = new KeyVersions(o.maxTrackedKeys, cluster.localNode.instance);
    // The wall clock read once per turn of publishes (turn-clock.ts), not once per publish.
    const wall = new TurnClock(o.clock);
    this.hlc = new HybridLogicalClock(() => wall.now());
    this.epoch = cluster.localNode.instance;
    this.startedAt = o.clock.now();
    this.publisher = new Publisher({
      cluster, options: o, fit: this.fit, log: this.log, versions: this.versions, hlc: this.hlc, counters: this.counters, epoch: this.epoch,
      deliverLocal: (seq, e) => this.deliverLocal(seq, e),
    });
    this.fetchServer = new FetchServer(o, this.log, this.marks, this.epoch, this.fit.measure);
    this.subs = new Subscriptions(
      o.subscriberBuffer,
      (n) => this.counters.count('grapevine.mesh.overflowed', n),
      (err) => {
        this.cluster.metrics.increment('grapevine.mesh.subscriber-error');
        this.cluster.logger.error({ err }, 'mesh subscriber callback threw');
      },
    );
    this.waiters = new AckWaiters(o.clock, o.maxAwaiting, (name) => cluster.member(name)?.meta[o.zoneKey]);
    this.recovery = new Recovery({
      clock: o.clock,
      opts: o,
      instance: this.epoch,
      uptime: () => o.clock.now() - this.startedAt,
      fetch: (origin, req) => this.fetch(origin, req),
      isLive: (origin) => {
        const m = cluster.member(origin);
        return m !== undefined && (m.state === 'alive' || m.state === 'suspect');
      },
      deliver: (origin, epoch, seq, e) => this.deliver(origin, epoch, seq, e),
      deliverAt: (origin, epoch, seq, b, i) => this.deliverAt(origin, epoch, seq, b, i),
      gap: (origin, from, to) => this.subs.broadcast({ type: 'gap', origin, from, to }),
      count: (name, by) => this.counters.count(name, by),
    });
    this.register();
    this.unregister.push(cluster.on('change', (ev) => this.onMember(ev)));
    this.armTicker();
  }

  // ---- wiring ---------------------------------------------------------------------------------

  private type(offset: number): number {
    return this.options.typeBase + offset;
  }

  private register(): void {
    const c = this.cluster;
    const max = this.options.maxKeyBytes;
    try {
      this.unregister.push(c.handle(this.type(MeshType.batch), (payload, info) => {
        if (info.from === c.name) return;
        const m = parseBatchColumns(payload, max);
        if (!m) {
          if (isUnknownBatchFormat(payload)) this.counters.count('grapevine.mesh.unknown-format', 1);
          return this.invalid();
        }
        this.observeVersion(m.maxVersion);
        this.recovery.receiveBatch(info.from, m);
      }));
      this.unregister.push(c.handle(this.type(MeshType.head), (payload, info) => {
        if (info.from === c.name) return;
        const m = parseHead(payload);
        if (!m) return this.invalid();
        this.recovery.head(info.from, m.epoch, m.head);
      }));
      this.unregister.push(c.handleRequest(this.type(MeshType.fetch), (payload, info) => {
        const req = parseFetch(payload);
        if (!req) {
          this.invalid();
          throw new GrapevineError('ERR_DECODE', 'mesh: malformed fetch');
        }
        return fetchReplyToWire(this.fetchServer.answer(info.from, req));
      }));
      this.unregister.push(c.handle(this.type(MeshType.ack), (payload, info) => {
        const m = parseAck(payload);
        if (!m) return this.invalid();
        if (m.epoch === this.epoch) this.waiters.ack(m.seq, info.from);
      }, { forward: false }));
    } catch (err) {
      for (const off of this.unregister.splice(0)) off();
      throw err;
    }
  }

  private invalid(): void {
    this.counters.values.invalid++;
  }

  /** Add what the bus counted since the last call to the cluster's metrics (`grapevine.mesh.*`). */
  syncMetrics(): void {
    this.counters.sync();
  }

  private armTicker(): void {
    const o = this.options;
    this.ticker = o.clock.setTimer(() => {
      this.ticker = undefined;
      if (this.closedFlag || this.cluster.closed) return;
      const now = o.clock.now();
      this.syncMetrics();
      this.log.expire(now);
      const last = this.log.lastAt;
      // Announce the head while receivers could still fetch what they missed: a lost last batch
      // is noticed within one interval.
      if (this.log.head > 0 && (last !== undefined ? now - last <= o.retentionWindow : false)) {
        try {
          this.cluster.broadcast(this.type(MeshType.head), [this.epoch, this.log.head]);
        } catch {
          return;
        }
      }
      this.armTicker();
    }, o.headInterval);
  }

  private onMember(ev: MemberEvent): void {
    if (this.closedFlag) return;
    this.marks.observe(ev, this.cluster.name);
    if (ev.type === 'alive' && ev.member.name !== this.cluster.name) this.recovery.originBack(ev.member.name);
  }

  // ---- publishing (publisher.ts) --------------------------------------------------------------

  private checkOpen(): void {
    if (this.closedFlag) throw new GrapevineError('ERR_CLOSED', 'mesh bus closed');
  }

  /**
   * Invalidate `key` on every other member (and refresh it, with `value`). Batched: it leaves
   * within `batchInterval` ms, or at once when a batch fills. Throws ERR_TOO_LARGE, ERR_CLOSED,
   * ERR_ABORTED or ERR_INVALID_OPTION; never waits.
   */
  publish(key: string, opts?: PublishOptions): void {
    this.checkOpen();
    const hasValue = opts !== undefined && opts.value !== undefined;
    this.publisher.publish(key, hasValue, hasValue ? opts.value : undefined, false, opts?.signal, true);
  }

  /**
   * Publish and wait for acknowledgements: resolves when `replicas` distinct members that
   * subscribe to the key (and members in `zones` distinct zones) delivered it; rejects with
   * QuorumTimeoutError (code ERR_QUORUM_TIMEOUT, with who did ack) after `timeout`.
   */
  publishAndAwait(key: string, opts: PublishAndAwaitOptions = {}): Promise<AckResult> {
    try {
      const replicas = opts.replicas ?? 1;
      const zones = opts.zones ?? 0;
      const timeout = opts.timeout ?? this.options.awaitTimeout;
      for (const [n, v] of [['replicas', replicas], ['zones', zones], ['timeout', timeout]] as const) {
        if (!Number.isSafeInteger(v) || v < 0) throw new GrapevineError('ERR_INVALID_OPTION', `mesh: ${n} must be a non-negative integer`);
      }
      this.waiters.checkRoom();
      this.checkOpen();
      const hasValue = opts.value !== undefined;
      this.publisher.publish(key, hasValue, opts.value, true, opts.signal, false);
      // Acknowledged publishes don't wait for the batch timer: send what waits now.
      let seq: number | undefined;
      while (seq === undefined && this.publisher.batcher.size > 0) seq = this.flush().get(key);
      if (seq === undefined) throw new GrapevineError('ERR_CLOSED', 'mesh bus closed');
      return this.waiters.wait(seq, key, replicas, zones, timeout, opts.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Warp Mesh's lease helpers: a lease is the key `lease:<id>`. */
  revokeLease(id: string): void {
    this.publish(`lease:${id}`);
  }

  subscribeLease(id: string, fn?: (e: MeshEvent) => void, opts: SubscribeOptions = {}): Subscription {
    return this.subscribe(`lease:${id}`, fn, opts);
  }

  /**
   * Send every waiting key now. Returns the sequence number each key got. Batches are split so
   * each fits one best-effort packet exactly (measured with the cluster's own codec and envelope).
   */
  flush(): Map<string, number> {
    if (this.closedFlag && this.publisher.batcher.size === 0) return new Map();
    return this.publisher.flush();
  }

  // ---- receiving ------------------------------------------------------------------------------

  /** The newest version this bus's clock has observed (observing an older one again adds nothing). */
  private observed = 0;

  /**
   * Merge the newest version of a batch (or fetch reply) into this bus's clock, once per message
   * rather than once per delivered event (each observe reads the wall clock). Duplicates and
   * held events count too: their versions are real times of the origin all the same.
   */
  private observeVersions(events: readonly WireEvent[]): void {
    let max = 0;
    for (let i = 0; i < events.length; i++) if (events[i]!.version > max) max = events[i]!.version;
    this.observeVersion(max);
  }

  private observeVersion(max: number): void {
    if (max > this.observed) {
      this.observed = max;
      this.hlc.observe(max);
    }
  }

  private deliver(origin: string, epoch: number, seq: number, e: WireEvent): void {
    this.deliverOne(origin, epoch, seq, e.key, e.version, e.ack, e.hasValue, e.value);
  }

  /** Event `i` of a batch delivered straight from its columns (the in-order path). */
  private deliverAt(origin: string, epoch: number, seq: number, b: EventColumns, i: number): void {
    const f = b.flags ? b.flags[i]! : 0;
    this.deliverOne(origin, epoch, seq, b.keys[i]!, b.versions[i]!, (f & ACK) !== 0, (f & HAS_VALUE) !== 0, (f & HAS_VALUE) !== 0 ? b.values![i] : undefined);
  }

  private deliverOne(origin: string, epoch: number, seq: number, key: string, version: number, ack: boolean, hasValue: boolean, value: unknown): void {
    this.counters.values.delivered++;
    if (!this.versions.admit(key, version)) this.counters.values.stale++;
    else if (this.subs.size > 0) this.subs.deliver(key, origin, seq, version, hasValue, value);
    if (ack && this.subs.wants(key)) {
      this.cluster.sendTo(origin, this.type(MeshType.ack), [epoch, seq], { reliable: true }).catch(() => this.counters.count('grapevine.mesh.ack-failed', 1));
    }
  }

  private deliverLocal(seq: number, e: WireEvent): void {
    if (!this.versions.admit(e.key, e.version)) return;
    this.subs.deliver(e.key, this.cluster.name, seq, e.version, e.hasValue, e.value);
  }

  private async fetch(origin: string, req: FetchReq): Promise<FetchReply> {
    const raw = await this.cluster.request(origin, this.type(MeshType.fetch), fetchToWire(req), { timeout: this.options.fetchTimeout });
    const reply = parseFetchReply(raw, this.options.maxKeyBytes);
    if (!reply) {
      this.invalid();
      throw new GrapevineError('ERR_DECODE', 'mesh: malformed fetch reply');
    }
    this.observeVersions(reply.events);
    return reply;
  }

  // ---- subscribing ----------------------------------------------------------------------------

  /**
   * Listen to one key, or to every key with a prefix. With `fn`, events are handed to it in order;
   * without, iterate the returned Subscription (`for await`). Unsubscribe with
   * `sub.unsubscribe()` or the AbortSignal.
   */
  subscribe(target: SubscribeTarget, fn?: ((e: MeshEvent) => void) | SubscribeOptions, opts: SubscribeOptions = {}): Subscription {
    if (this.closedFlag) throw new GrapevineError('ERR_CLOSED', 'mesh bus closed');
    if (fn !== undefined && typeof fn !== 'function') return this.subs.add(target, undefined, fn);
    return this.subs.add(target, fn, opts);
  }

  // ---- state ----------------------------------------------------------------------------------

  /** Addresses of the other live members (Warp Mesh's peers()). */
  peers(): string[] {
    return this.cluster.aliveMembers().filter((m) => m.name !== this.cluster.name).map((m) => m.address);
  }

  /** Running and connected: at least one other member alive, or alone when allowAlone is set. */
  isHealthy(): boolean {
    if (this.closedFlag || this.cluster.closed) return false;
    return this.options.allowAlone || this.cluster.aliveMembers().length > 1;
  }

  metrics(): MeshMetrics {
    this.syncMetrics();
    return { ...this.counters.values };
  }

  /** Per-origin receive positions (for diagnostics, and for tests that check completeness). */
  positions(): Map<string, { epoch: number; delivered: number; knownHead: number; held: number }> {
    return this.recovery.positions();
  }

  /** Nothing known to exist from any origin is still undelivered here. */
  get settled(): boolean {
    return this.recovery.settled;
  }

  /** This node's sequence number of the newest event it sent, and its run (epoch). */
  get head(): { epoch: number; seq: number; pending: number } {
    return { epoch: this.epoch, seq: this.log.head, pending: this.publisher.batcher.size };
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Send what waits, then stop: unregister the handlers, end subscriptions, fail waiters. */
  close(): Promise<void> {
    if (this.closedFlag) return Promise.resolve();
    if (!this.cluster.closed) this.flush();
    this.closedFlag = true;
    this.syncMetrics();
    this.publisher.close();
    this.ticker?.cancel();
    for (const off of this.unregister.splice(0)) off();
    this.recovery.close();
    this.waiters.closeAll();
    this.subs.closeAll();
    return Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Start a bus on a running cluster. Its message types collide with nothing (ERR_DUPLICATE_HANDLER otherwise). */
export function createMesh(cluster: Cluster<any>, options?: MeshOptions): MeshBus {
  return new MeshBus(cluster as Cluster<unknown>, options);
}
