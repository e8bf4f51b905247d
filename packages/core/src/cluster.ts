/**
 * The Cluster: what users hold. It binds the I/O-free protocol (SwimNode) to a transport, the
 * wire codec, a clock and the user's API: join, leave, close, members, events.
 */
import { systemClock, type Clock } from './clock.js';
import type { ClusterOptions } from './cluster-options.js';
import { jsonCodec } from './codec-json.js';
import { resolveConfig, type ProtocolConfig } from './config.js';
import { GrapevineError } from './errors.js';
import { MemberEvents, type EventName, type MemberListener } from './event-stream.js';
import { silentLogger, type Logger } from './logger.js';
import type { Member, MemberCounts, MemberEvent, MemberEventType, MemberState, Meta } from './member.js';
import { MemoryMetrics, type Metrics } from './metrics.js';
import { snapshot } from './protocol/membership.js';
import { SwimNode } from './protocol/swim-node.js';
import { MAX_APP_VERSION_BYTES } from './protocol/messages.js';
import { systemRandom } from './random.js';
import type { Transport } from './transport.js';
import type { MessageType } from './messaging/message-type.js';
import type { MessageHandler, PreparedBroadcast, RequestHandler, RequestOptions, SendOptions } from './messaging/messenger.js';
import type { StreamChannel, StreamInfo, StreamOptions } from './messaging/stream-channel.js';
import { NodeGroup, type GroupCriteria, type GroupOptions } from './messaging/node-group.js';



/** A suspicion timer running on this node (see Cluster.health). */
export interface SuspicionTimer {
  /** The suspected member. */
  name: string;
  /** When this node started suspecting it (clock ms). */
  startedAt: number;
  /** When it will be declared dead unless it refutes (clock ms); earlier with each confirmation. */
  deadline: number;
  /** Independent confirmations received from other members (Lifeguard). */
  confirmations: number;
}

/** What Cluster.health returns. */
export interface ClusterHealth {
  /** Lifeguard local health score: 0 is healthy; probing slows by a factor of score + 1. */
  awareness: number;
  /** The highest score (awarenessMaxMultiplier - 1). */
  awarenessMax: number;
  suspicions: SuspicionTimer[];
}

export class Cluster<S = unknown> {
  readonly config: ProtocolConfig;
  readonly transport: Transport;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The protocol state machine; exposed for tests, simulations and plugins that need internals. */
  readonly node: SwimNode;
  private readonly events: MemberEvents;
  private state: 'running' | 'leaving' | 'closed' = 'running';
  /** The clock this cluster runs on (virtual in simulations); plugins time their work by it. */
  readonly clock: Clock;
  private readonly wrapStream: (ch: StreamChannel, opts: StreamOptions) => S;

  private constructor(opts: ClusterOptions<S>, config: ProtocolConfig) {
    this.wrapStream = opts.wrapStream ?? ((ch) => ch as unknown as S);
    this.config = config;
    this.clock = opts.clock ?? systemClock;
    this.transport = opts.transport;
    this.metrics = opts.metrics ?? new MemoryMetrics();
    this.logger = opts.logger ?? silentLogger;
    this.events = new MemberEvents((err) => this.logger.error({ err }, 'member event listener threw'));
    for (const [name, fn] of Object.entries(opts.on ?? {}) as [EventName, MemberListener | undefined][]) {
      if (fn) this.events.on(name, fn);
    }
    const transport = opts.transport;
    this.node = new SwimNode(
      {
        clock: opts.clock ?? systemClock,
        random: opts.random ?? systemRandom(),
        codec: opts.codec ?? jsonCodec,
        logger: this.logger,
        metrics: this.metrics,
        sendPacket: (to, data) => transport.sendPacket(to, data),
        sendReliable: (to, data) => transport.sendReliable(to, data),
        emit: (ev) => {
          // A member that appears (new, or back from dead or left) will be probed and gossiped to soon.
          if (ev.type === 'alive' && ev.previous !== 'alive' && ev.previous !== 'suspect' && ev.member.name !== opts.name) {
            transport.connect?.(ev.member.address);
          }
          this.events.emit(ev);
        },
        label: opts.label,
        stringPool: opts.stringPool,
        compressor: opts.compressor,
        encryption: opts.encryption,
        compatible: opts.compatible,
      },
      config,
      { name: opts.name, address: transport.address, meta: opts.meta ?? {}, ...(opts.appVersion !== undefined ? { appVersion: opts.appVersion } : {}) },
    );
  }

  /**
   * Start the transport and the protocol. With `seeds`, also join them (a failed join is logged
   * and retried by the healing loop rather than failing the start).
   */
  static async create<S = StreamChannel>(opts: ClusterOptions<S>): Promise<Cluster<S>> {
    if (!opts || typeof opts.name !== 'string' || opts.name.length === 0) {
      throw new GrapevineError('ERR_INVALID_OPTION', 'option name must be a non-empty string');
    }
    if (!opts.transport) throw new GrapevineError('ERR_INVALID_OPTION', 'option transport is required');
    const { name: _n, transport: _t, codec: _c, profile, limits, meta: _m, seeds: _s, clock: _cl, random: _r, logger: _l, metrics: _me, on: _on, label: _lb, compressor: _co, encryption: _en, wrapStream: _ws, appVersion, compatible: _cp, stringPool: _sp, ...overrides } = opts;
    const resolved = resolveConfig(profile, { ...overrides, ...(limits ? { limits: limits as ProtocolConfig['limits'] } : {}) });
    // Never build packets larger than the transport carries best-effort.
    const config = { ...resolved, packetBudget: Math.min(resolved.packetBudget, opts.transport.packetBudget) };
    if (new TextEncoder().encode(opts.name).length > config.limits.maxNameBytes) {
      throw new GrapevineError('ERR_INVALID_OPTION', `node name longer than ${config.limits.maxNameBytes} bytes`);
    }
    if (appVersion !== undefined && (typeof appVersion !== 'string' || new TextEncoder().encode(appVersion).length > MAX_APP_VERSION_BYTES)) {
      throw new GrapevineError('ERR_INVALID_OPTION', `appVersion must be a string of at most ${MAX_APP_VERSION_BYTES} bytes`);
    }
    let cluster: Cluster<S> | undefined;
    await opts.transport.start({
      onMessage: (data, info) => cluster?.node.receive(data, info),
      isMember: (address) => cluster?.hasMemberAt(address) ?? false,
    });
    cluster = new Cluster(opts, config);
    cluster.node.start(opts.seeds ?? []);
    if (opts.seeds && opts.seeds.length > 0) {
      try {
        await cluster.join(opts.seeds);
      } catch (err) {
        cluster.logger.warn({ err }, 'initial join failed; will keep trying the seeds');
      }
    }
    return cluster;
  }

  get name(): string {
    return this.node.name;
  }

  get localNode(): Member {
    return snapshot(this.node.members.self);
  }

  /** Join through one or more seeds ("host:port"); resolves with the number that answered. */
  async join(seeds: string | string[], opts: { signal?: AbortSignal } = {}): Promise<number> {
    this.assertRunning();
    const list = typeof seeds === 'string' ? [seeds] : seeds;
    return abortable(this.node.join(list), opts.signal);
  }

  /**
   * Replace the seeds the node re-contacts when it is alone or has lost members (healing). A
   * discovery provider calls this when DNS or multicast answers change; it does not join by itself.
   */
  setSeeds(seeds: string[]): void {
    this.node.setSeeds(seeds);
  }

  /** Every known member (self included), optionally only those in the given states. */
  members(filter: { state?: MemberState | MemberState[] } = {}): Member[] {
    const states = filter.state === undefined ? undefined : new Set(Array.isArray(filter.state) ? filter.state : [filter.state]);
    const out: Member[] = [];
    for (const r of this.node.members.records.values()) if (!states || states.has(r.state)) out.push(snapshot(r));
    return out;
  }

  /** Members believed alive (not suspect), self included. */
  aliveMembers(): Member[] {
    return this.members({ state: 'alive' });
  }

  /**
   * True when a member other than this node, alive or suspect, advertises `address` (what
   * TransportReceiver.isMember answers): one lookup in the membership's address index, current
   * to the moment. (A set of live addresses rebuilt every second cost ~40 bytes per member and
   * answered from a view up to a second old.)
   */
  hasMemberAt(address: string): boolean {
    return this.node.members.hasLiveAddress(address);
  }

  member(name: string): Member | undefined {
    const r = this.node.members.get(name);
    return r ? snapshot(r) : undefined;
  }

  counts(): MemberCounts {
    return this.node.members.counts();
  }

  /**
   * This node's Lifeguard health, read-only (for dashboards and health checks): its awareness
   * score (0 healthy, up to `awarenessMax`; probe timeouts are multiplied by score + 1) and the
   * suspicion timers running now, oldest first. Times are this cluster's clock (ms).
   */
  health(): ClusterHealth {
    const suspicions: SuspicionTimer[] = [];
    for (const r of this.node.members.records.values()) {
      const s = r.suspicion;
      if (r.state === 'suspect' && s?.running) suspicions.push({ name: r.name, startedAt: s.startedAt, deadline: s.deadline, confirmations: s.confirmations });
    }
    suspicions.sort((a, b) => a.startedAt - b.startedAt);
    return { awareness: this.node.awareness.health, awarenessMax: this.config.awarenessMaxMultiplier - 1, suspicions };
  }

  get meta(): Meta {
    return this.node.members.self.meta;
  }

  /** Replace this node's metadata; it spreads with a raised incarnation. */
  setMeta(meta: Record<string, string>): void {
    this.assertRunning();
    this.node.setMeta(meta);
  }

  /** Set or delete (null) individual metadata keys. */
  updateMeta(patch: Record<string, string | null>): void {
    const next: Record<string, string> = { ...this.node.members.self.meta };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    this.setMeta(next);
  }

  on(name: EventName, fn: MemberListener): () => void {
    return this.events.on(name, fn);
  }

  off(name: EventName, fn: MemberListener): void {
    this.events.off(name, fn);
  }

  once(name: EventName, fn: MemberListener): () => void {
    const off = this.events.on(name, (ev) => {
      off();
      fn(ev);
    });
    return off;
  }

  // ---- application messages (docs/messaging.md) ------------------------------------------------

  /**
   * Handle messages of `type` (128..65535): direct sends and broadcasts. Broadcasts are delivered
   * once per node and forwarded onward unless `forward: false`. Returns the unregister function.
   */
  handle<T = unknown>(type: MessageType<T, unknown>, fn: MessageHandler<T>, opts: { forward?: boolean } = {}): () => void {
    return this.node.messenger.register(type, { kind: 'message', fn: fn as MessageHandler, forward: opts.forward ?? true });
  }

  /** Answer requests of `type`: the returned value (or thrown error) travels back to the requester. */
  handleRequest<T = unknown, R = unknown>(type: MessageType<T, R>, fn: RequestHandler<T, R>): () => void {
    return this.node.messenger.register(type, { kind: 'request', fn: fn as RequestHandler });
  }

  /** Accept streams of `type` opened by other nodes (`opts`: see StreamOptions). */
  handleStream(type: number, fn: (stream: S, info: StreamInfo) => void, opts: StreamOptions = {}): () => void {
    return this.node.messenger.register(type, { kind: 'stream', fn: (ch) => fn(this.wrapStream(ch, opts), ch) });
  }

  /**
   * Gossip `payload` to every live member (not to this node): pushed at once down a fan-out tree,
   * and repeated by piggybacked gossip so it survives loss. Returns the message id.
   */
  broadcast<T = unknown>(type: MessageType<T, unknown>, payload: T): number {
    this.assertRunning();
    return this.node.messenger.broadcast(type, payload);
  }

  /**
   * Bytes a broadcast payload may take, encoded with this cluster's codec (`encodedSize`), and
   * still ride one best-effort packet with the eager push and piggyback redundancy: the packet
   * budget minus envelope, label, cipher and broadcast header. Plugins size their batches by it.
   */
  broadcastPayloadBudget(): number {
    return this.node.messenger.broadcastPayloadBudget();
  }

  /** Exact: `broadcast(type, payload)` would go best-effort in one packet (not the reliable path). */
  broadcastFits(type: number, payload: unknown): boolean {
    return this.node.messenger.broadcastFits(type, payload);
  }

  /**
   * Encode a broadcast once to size it and then send it: `bytes` and `fits` are what
   * broadcastBytes and broadcastFits give, and `send()` broadcasts it (returning the message id)
   * from the bytes already encoded, with the id and hop count put in, instead of encoding the
   * payload a second time. The payload must not change before `send()`.
   */
  prepareBroadcast<T = unknown>(type: MessageType<T, unknown>, payload: T): PreparedBroadcast & { send(): number } {
    const p = this.node.messenger.prepareBroadcast(type, payload);
    return {
      bytes: p.bytes,
      fits: p.fits,
      send: () => {
        this.assertRunning();
        return this.node.messenger.sendPrepared(p);
      },
    };
  }

  /** Encoded bytes of the broadcast message for `payload` (worst case over id and hop count). */
  broadcastBytes(type: number, payload: unknown): number {
    return this.node.messenger.broadcastBytes(type, payload);
  }

  /** Encoded bytes of `value` with this cluster's codec. */
  encodedSize(value: unknown): number {
    return this.node.env.codec.encode(value).length;
  }

  /** Send to one live member: best-effort (default) or `reliable`. Large payloads go reliable. */
  sendTo<T = unknown>(node: string, type: MessageType<T, unknown>, payload: T, opts?: SendOptions): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new GrapevineError('ERR_CLOSED', 'cluster is closed'));
    return this.node.messenger.sendTo(node, type, payload, opts);
  }

  /** Send to several members; one slow or dead member never holds up the others. */
  sendToMany<T = unknown>(nodes: readonly string[], type: MessageType<T, unknown>, payload: T, opts?: SendOptions): Promise<{ sent: string[]; failed: { node: string; error: unknown }[] }> {
    if (this.state === 'closed') return Promise.reject(new GrapevineError('ERR_CLOSED', 'cluster is closed'));
    return this.node.messenger.sendToMany(nodes, type, payload, opts);
  }

  /**
   * Ask one member and wait for its reply. Rejects with ERR_TIMEOUT, ERR_ABORTED, ERR_REMOTE
   * (a RemoteError: the handler threw), ERR_NO_HANDLER, ERR_BUSY, ERR_UNREACHABLE or ERR_LIMIT.
   */
  request<R = unknown, T = unknown>(node: string, type: MessageType<T, R>, payload: T, opts?: RequestOptions): Promise<R> {
    if (this.state === 'closed') return Promise.reject(new GrapevineError('ERR_CLOSED', 'cluster is closed'));
    return this.node.messenger.request(node, type, payload, opts) as Promise<R>;
  }

  /** Open a flow-controlled byte stream to a member that handles `type` (see handleStream). */
  async openStream(node: string, type: number, header: unknown = null, opts: StreamOptions = {}): Promise<S> {
    this.assertRunning();
    const ch = await this.node.messenger.openStream(node, type, header);
    return this.wrapStream(ch, opts);
  }

  /** A live view of the members whose metadata matches `criteria`. Close it when done. */
  group<D = undefined>(criteria: GroupCriteria, opts: GroupOptions<D> = {}): NodeGroup<D> {
    return new NodeGroup<D>(this as unknown as Cluster<unknown>, criteria, opts);
  }

  /** Async iterator of member events, until `signal` aborts or the cluster closes. */
  watch(opts: { signal?: AbortSignal; types?: MemberEventType[] } = {}): AsyncIterableIterator<MemberEvent> {
    return this.events.iterate(opts);
  }

  /**
   * Leave gracefully: tell every member we are going, wait for it to spread, then close.
   * Resolves early (and still closes) if `signal` aborts.
   */
  async leave(opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.state !== 'running') return this.close();
    this.state = 'leaving';
    try {
      await abortable(this.node.leave(), opts.signal).catch((err: unknown) => {
        if (!(err instanceof GrapevineError && err.code === 'ERR_ABORTED')) throw err;
      });
    } finally {
      await this.close();
    }
  }

  /** Stop at once, without telling anyone (peers will detect us as failed). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.node.stop();
    this.events.end();
    await this.transport.close();
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.leave();
  }

  private assertRunning(): void {
    if (this.state !== 'running') throw new GrapevineError('ERR_CLOSED', 'cluster is closed');
  }
}

/** Race a promise against an AbortSignal (rejecting with ERR_ABORTED). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new GrapevineError('ERR_ABORTED', 'aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new GrapevineError('ERR_ABORTED', 'aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

/** Start a cluster (the generic form; Node users want `createCluster` from the grapevine package). */
export function createClusterWith<S = StreamChannel>(opts: ClusterOptions<S>): Promise<Cluster<S>> {
  return Cluster.create(opts);
}
