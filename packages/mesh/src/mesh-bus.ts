/**
 * The bus: createMesh(cluster, options) → MeshBus. It binds the batcher, the origin log, the
 * receive-side recovery, subscriptions and acknowledgement waiters to a core Cluster through its
 * public messaging API (handle, handleRequest, broadcast, sendTo, request, members, events), so it
 * runs the same on real sockets and in the simulator. docs/mesh.md states what it guarantees.
 */
import { GrapevineError, HybridLogicalClock, utf8Length, type Cluster, type MemberEvent, type TimerHandle } from '@grapevine/core';
import { AckWaiters, type AckResult } from './await-acks.js';
import { Batcher, estimateEntryBytes, type PendingEntry } from './batcher.js';
import { resolveMeshOptions, type MeshOptions, type ResolvedMeshOptions } from './options.js';
import { OriginLog } from './origin-log.js';
import { packetFit, type PacketFit } from './packet-fit.js';
import { Recovery } from './recovery.js';
import { RejoinMarks } from './rejoin-marks.js';
import { Subscriptions, type InvalidateEvent, type MeshEvent, type SubscribeOptions, type SubscribeTarget, type Subscription } from './subscriptions.js';
import { KeyVersions } from './versions.js';
import {
  MeshType, batchToWire, fetchReplyToWire, fetchToWire, parseAck, parseBatch, parseFetch, parseFetchReply, parseHead,
  type FetchReply, type FetchReq, type WireEvent,
} from './wire.js';

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

export class MeshBus {
  readonly options: ResolvedMeshOptions;
  private readonly fit: PacketFit;
  private readonly batcher: Batcher;
  private readonly log: OriginLog;
  private readonly marks: RejoinMarks;
  private readonly recovery: Recovery;
  private readonly subs: Subscriptions;
  private readonly versions: KeyVersions;
  private readonly waiters: AckWaiters;
  private readonly hlc: HybridLogicalClock;
  private readonly epoch: number;
  private readonly startedAt: number;
  /** Encoded bytes of an event with an empty key and the largest version, in the cluster's codec. */
  private readonly entryBase: number;
  private readonly unregister: (() => void)[] = [];
  private batchTimer: TimerHandle | undefined;
  private ticker: TimerHandle | undefined;
  private closedFlag = false;
  private readonly counters: MeshMetrics = {
    published: 0, merged: 0, batches: 0, eventsSent: 0, bytesSent: 0, delivered: 0, duplicates: 0, stale: 0,
    gaps: 0, overflowed: 0, fetches: 0, fetchedEvents: 0, invalid: 0,
  };

  constructor(readonly cluster: Cluster<unknown>, opts?: MeshOptions) {
    if (!cluster || typeof cluster.handle !== 'function') throw new GrapevineError('ERR_INVALID_OPTION', 'mesh: createMesh needs a started Cluster');
    if (cluster.closed) throw new GrapevineError('ERR_CLOSED', 'cluster is closed');
    const o = resolveMeshOptions(opts, cluster.clock);
    this.options = o;
    this.fit = packetFit(cluster);
    this.entryBase = this.fit.measure(['', Number.MAX_SAFE_INTEGER, 1]);
    const budget = o.batchBytes > 0 ? Math.min(o.batchBytes, this.fit.payloadBudget) : this.fit.payloadBudget;
    this.batcher = new Batcher({ size: o.batchSize, bytes: Math.max(1, budget) });
    this.log = new OriginLog(o.retentionEvents, o.retentionWindow);
    this.marks = new RejoinMarks(o.maxOrigins, o.rejoinLookback, (t) => this.log.seqBefore(t));
    this.versions = new KeyVersions(o.maxTrackedKeys);
    this.hlc = new HybridLogicalClock(() => o.clock.now());
    this.epoch = cluster.localNode.instance;
    this.startedAt = o.clock.now();
    this.subs = new Subscriptions(
      o.subscriberBuffer,
      (n) => this.count('grapevine.mesh.overflowed', n),
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
      gap: (origin, from, to) => this.subs.broadcast({ type: 'gap', origin, from, to }),
      count: (name, by) => this.count(name, by),
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
        const m = parseBatch(payload, max);
        if (!m) return this.invalid();
        this.recovery.receive(info.from, m.epoch, m.first, m.events);
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
        return fetchReplyToWire(this.answerFetch(info.from, req));
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
    this.count('grapevine.mesh.invalid', 1);
  }

  /** Counter name → the metrics() field it feeds (computed once per name), or null. */
  private readonly fieldOf = new Map<string, string | null>();
  /** What of `counters` has been added to the cluster's metrics already. */
  private synced: Record<string, number> = {};

  /**
   * Count an event. The hot counters (one per delivered event) stay in this bus and reach the
   * cluster's metrics sink once a second (syncMetrics), so a million deliveries do not cost a
   * million map updates; rare ones go to the sink at once.
   */
  private count(name: string, by = 1): void {
    let field = this.fieldOf.get(name);
    if (field === undefined) {
      const short = name.slice('grapevine.mesh.'.length).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      field = short in this.counters ? short : null;
      this.fieldOf.set(name, field);
    }
    if (field !== null) (this.counters as unknown as Record<string, number>)[field]! += by;
    else this.cluster.metrics.increment(name, by);
  }

  /** Add what the bus counted since the last call to the cluster's metrics (`grapevine.mesh.*`). */
  syncMetrics(): void {
    for (const [k, v] of Object.entries(this.counters) as [string, number][]) {
      const d = v - (this.synced[k] ?? 0);
      if (d === 0) continue;
      this.synced[k] = v;
      this.cluster.metrics.increment(`grapevine.mesh.${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, d);
    }
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

  // ---- publishing -----------------------------------------------------------------------------

  private entry(key: string, opts: PublishOptions | undefined, ack: boolean): Omit<PendingEntry, 'owner'> {
    if (this.closedFlag) throw new GrapevineError('ERR_CLOSED', 'mesh bus closed');
    if (typeof key !== 'string' || key.length === 0) throw new GrapevineError('ERR_INVALID_OPTION', 'mesh: key must be a non-empty string');
    const keyBytes = utf8Length(key);
    if (keyBytes > this.options.maxKeyBytes) throw new GrapevineError('ERR_TOO_LARGE', `mesh: key longer than maxKeyBytes (${this.options.maxKeyBytes})`);
    if (opts?.signal?.aborted) throw new GrapevineError('ERR_ABORTED', 'aborted');
    const hasValue = opts !== undefined && 'value' in opts && opts.value !== undefined;
    const value = hasValue ? opts!.value : undefined;
    let bytes = estimateEntryBytes(this.entryBase, keyBytes, hasValue, value, this.fit.measure);
    if (bytes > this.batcher.limits.bytes) {
      // The estimate is an upper bound; measure exactly before refusing.
      bytes = this.fit.measure(hasValue ? [key, Number.MAX_SAFE_INTEGER, 1, value] : [key, Number.MAX_SAFE_INTEGER, 1]) + 2;
      if (bytes > this.batcher.limits.bytes) {
        throw new GrapevineError('ERR_TOO_LARGE', `mesh: key and value take ${bytes} bytes; one event must fit one packet (${this.batcher.limits.bytes} bytes)`);
      }
    }
    return { key, version: this.hlc.now(), hasValue, value, ack, bytes };
  }

  private enqueue(e: Omit<PendingEntry, 'owner'>, signal: AbortSignal | undefined): void {
    if (this.batcher.wouldOverflow(e.key, e.bytes)) this.flush();
    // This node's own write is the newest it knows for the key: an older write from another
    // origin that arrives later is stale here too (with deliverLocal, delivery records it).
    if (!this.options.deliverLocal) this.versions.admit(e.key, e.version);
    const owner = signal ? {} : undefined;
    const merged = this.batcher.add(e, owner);
    this.count('grapevine.mesh.published', 1);
    if (merged) this.count('grapevine.mesh.merged', 1);
    if (signal && owner && !merged) {
      signal.addEventListener('abort', () => {
        if (this.batcher.withdraw(e.key, owner)) this.count('grapevine.mesh.withdrawn', 1);
      }, { once: true });
    }
    if (this.batcher.full()) this.flush();
    else if (!this.batchTimer) {
      this.batchTimer = this.options.clock.setTimer(() => {
        this.batchTimer = undefined;
        this.flush();
      }, this.options.batchInterval);
    }
  }

  /**
   * Invalidate `key` on every other member (and refresh it, with `value`). Batched: it leaves
   * within `batchInterval` ms, or at once when a batch fills. Throws ERR_TOO_LARGE, ERR_CLOSED,
   * ERR_ABORTED or ERR_INVALID_OPTION; never waits.
   */
  publish(key: string, opts?: PublishOptions): void {
    this.enqueue(this.entry(key, opts, false), opts?.signal);
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
      const e = this.entry(key, opts, true);
      this.enqueue(e, undefined);
      // Acknowledged publishes don't wait for the batch timer: send what waits now.
      let seq: number | undefined;
      while (seq === undefined && this.batcher.size > 0) seq = this.flush().get(key);
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
    this.batchTimer?.cancel();
    this.batchTimer = undefined;
    const out = new Map<string, number>();
    if (this.closedFlag && this.batcher.size === 0) return out;
    const type = this.type(MeshType.batch);
    while (this.batcher.size > 0) {
      let rest = this.batcher.take();
      while (rest.length > 0) {
        const first = this.log.head + 1;
        let n = rest.length;
        let payload = batchToWire({ epoch: this.epoch, first, events: rest.slice(0, n) });
        while (n > 1 && !this.fit.fits(type, payload)) {
          n = Math.ceil(n / 2);
          payload = batchToWire({ epoch: this.epoch, first, events: rest.slice(0, n) });
        }
        if (n === 1 && !this.fit.fits(type, payload)) this.count('grapevine.mesh.oversize', 1);
        const chunk = rest.slice(0, n);
        rest = rest.slice(n);
        const now = this.options.clock.now();
        const events: WireEvent[] = [];
        for (let i = 0; i < chunk.length; i++) {
          const p = chunk[i]!;
          const ev: WireEvent = { key: p.key, version: p.version, ack: p.ack, hasValue: p.hasValue };
          if (p.hasValue) ev.value = p.value;
          this.log.append({ key: p.key, version: p.version, ack: p.ack, hasValue: p.hasValue, value: p.value, seq: first + i, at: now });
          events.push(ev);
          out.set(p.key, first + i);
        }
        this.count('grapevine.mesh.batches', 1);
        this.count('grapevine.mesh.events-sent', chunk.length);
        this.count('grapevine.mesh.bytes-sent', this.fit.messageBytes(type, payload));
        if (this.options.deliverLocal) for (let i = 0; i < events.length; i++) this.deliverLocal(first + i, events[i]!);
        try {
          this.cluster.broadcast(type, payload);
        } catch (err) {
          // The cluster closed under us: the events stay in the log for whoever asks.
          this.cluster.logger.warn({ err }, 'mesh batch not broadcast');
        }
      }
    }
    return out;
  }

  // ---- receiving ------------------------------------------------------------------------------

  private deliver(origin: string, epoch: number, seq: number, e: WireEvent): void {
    this.hlc.observe(e.version);
    this.count('grapevine.mesh.delivered', 1);
    const fresh = this.versions.admit(e.key, e.version);
    if (!fresh) this.count('grapevine.mesh.stale', 1);
    else if (this.subs.size > 0) this.subs.deliver(invalidation(origin, seq, e));
    if (e.ack && this.subs.wants(e.key)) {
      this.cluster.sendTo(origin, this.type(MeshType.ack), [epoch, seq], { reliable: true }).catch(() => this.count('grapevine.mesh.ack-failed', 1));
    }
  }

  private deliverLocal(seq: number, e: WireEvent): void {
    if (!this.versions.admit(e.key, e.version)) return;
    this.subs.deliver(invalidation(this.cluster.name, seq, e));
  }

  private answerFetch(from: string, req: FetchReq): FetchReply {
    const now = this.options.clock.now();
    this.log.expire(now);
    const base = { epoch: this.epoch, head: this.log.head, oldest: this.log.oldest };
    if (req.fresh) {
      const owed = this.marks.owed(from, req.instance, now, req.uptime, this.options.fetchTimeout);
      return { ...base, owed, first: Math.max(owed, this.log.oldest), events: this.page(owed) };
    }
    if (req.epoch !== this.epoch) return { ...base, owed: null, first: 0, events: [] };
    return { ...base, owed: null, first: Math.max(req.from, this.log.oldest), events: this.page(req.from, req.to) };
  }

  /** One reply's worth of logged events, up to `to` (0: no bound): fetchEvents at most, and about 512 KiB. */
  private page(from: number, to = 0): WireEvent[] {
    const start = Math.max(from, this.log.oldest);
    const limit = to >= start ? Math.min(this.options.fetchEvents, to - start + 1) : this.options.fetchEvents;
    const events = this.log.range(from, limit);
    let bytes = 0;
    const out: WireEvent[] = [];
    for (const e of events) {
      bytes += utf8Length(e.key) + 32 + (e.hasValue ? this.fit.measure(e.value) : 0);
      if (out.length > 0 && bytes > 512 * 1024) break;
      out.push(e.hasValue ? { key: e.key, version: e.version, ack: e.ack, hasValue: true, value: e.value } : { key: e.key, version: e.version, ack: e.ack, hasValue: false });
    }
    return out;
  }

  private async fetch(origin: string, req: FetchReq): Promise<FetchReply> {
    const raw = await this.cluster.request(origin, this.type(MeshType.fetch), fetchToWire(req), { timeout: this.options.fetchTimeout });
    const reply = parseFetchReply(raw, this.options.maxKeyBytes);
    if (!reply) {
      this.invalid();
      throw new GrapevineError('ERR_DECODE', 'mesh: malformed fetch reply');
    }
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
    return { ...this.counters };
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
    return { epoch: this.epoch, seq: this.log.head, pending: this.batcher.size };
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
    this.batcher.clear();
    this.ticker?.cancel();
    this.batchTimer?.cancel();
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

function invalidation(origin: string, seq: number, e: WireEvent): InvalidateEvent {
  const ev: InvalidateEvent = { type: 'invalidate', key: e.key, hasValue: e.hasValue, origin, seq, version: e.version };
  if (e.hasValue) ev.value = e.value;
  return ev;
}

/** Start a bus on a running cluster. Its message types collide with nothing (ERR_DUPLICATE_HANDLER otherwise). */
export function createMesh(cluster: Cluster<any>, options?: MeshOptions): MeshBus {
  return new MeshBus(cluster as Cluster<unknown>, options);
}
