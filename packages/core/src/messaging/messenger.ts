/**
 * The application message layer of one node, as pure protocol: handler registry, direct sends,
 * gossip broadcasts (eager tree push + piggyback redundancy, deduplicated, hop-limited),
 * request/reply and streams. All I/O goes through the node's NodeEnv; docs/messaging.md states the
 * delivery semantics of each send.
 */
import { runSoon } from '../clock.js';
import type { ProtocolConfig } from '../config.js';
import { GrapevineError } from '../errors.js';
import type { HybridLogicalClock } from '../hlc.js';
import type { InboundInfo } from '../transport.js';
import type { Membership, MemberRecord } from '../protocol/membership.js';
import type { NodeEnv } from '../protocol/node-env.js';
import type { Outbox } from '../protocol/outbox.js';
import { hopLimit, pushFanout, treeChildren } from './broadcast-tree.js';
import { LiveOrder } from './live-order.js';
import { MessageQueue } from './message-queue.js';
import { PendingRequests } from './requests.js';
import { Relay } from './relay.js';
import { SeenMessages } from './seen-messages.js';
import type { StreamChannel } from './stream-channel.js';
import { StreamMux } from './stream-mux.js';
import { FIRST_USER_TYPE, MAX_USER_TYPE, ReplyStatus, isGossipHead, parseUserMessage, userToWire, type GossipMsg, type RequestMsg, type UserMessage } from './user-wire.js';

export interface MessageInfo {
  /** The sending node's name; for a broadcast, the node that broadcast it. */
  readonly from: string;
  /** Its address, when known (always for direct messages and requests). */
  readonly address: string | undefined;
  readonly type: number;
  /** True for gossip broadcasts. */
  readonly broadcast: boolean;
  /** Broadcasts: the origin's HLC timestamp, unique per origin. */
  readonly id?: number;
  /**
   * Broadcasts: the hop budget left on the copy that arrived (the origin sends its hop limit; each
   * relay takes one off), so limit − hops + 1 is how many sends it took to get here.
   */
  readonly hops?: number;
  /** True when the message arrived over the reliable path. */
  readonly reliable: boolean;
}

export type MessageHandler<T = unknown> = (payload: T, info: MessageInfo) => void;
export type RequestHandler<T = unknown, R = unknown> = (payload: T, info: MessageInfo) => R | Promise<R>;
export type ChannelHandler = (ch: StreamChannel) => void;

type Registered =
  | { kind: 'message'; fn: MessageHandler; forward: boolean }
  | { kind: 'request'; fn: RequestHandler }
  | { kind: 'stream'; fn: ChannelHandler };

/** What the messenger needs of the node that hosts it. */
export interface MessengerHost {
  readonly env: NodeEnv;
  readonly cfg: ProtocolConfig;
  readonly members: Membership;
  readonly outbox: Outbox;
  readonly hlc: HybridLogicalClock;
  /** Up to k random live members other than self and `exclude`. */
  randomPeers(k: number, exclude?: string): MemberRecord[];
  scheduleEagerGossip(): void;
}

export interface SendOptions {
  /** Use the reliable path (TCP, WebSocket) even for a small payload. Default false. */
  reliable?: boolean;
}

export interface RequestOptions {
  /** Milliseconds to wait for the reply. Default: the requestTimeout option. */
  timeout?: number;
  signal?: AbortSignal;
  /** Default true: requests and their replies use the reliable path. */
  reliable?: boolean;
}

/**
 * A broadcast encoded once (Messenger.prepareBroadcast): measured, and then sent as those bytes
 * with the real id and hop count put in, so a sender that sizes a message before sending it (the
 * mesh's batches) does not encode it twice.
 */
export interface PreparedBroadcast {
  /** What broadcastBytes gives: encoded bytes, worst case over id and hop count. */
  readonly bytes: number;
  /** What broadcastFits gives: it rides one best-effort packet. */
  readonly fits: boolean;
}

/** What a PreparedBroadcast holds: the encoding with the worst-case id and hops, and its type. */
interface Prepared extends PreparedBroadcast {
  readonly type: number;
  readonly part: Uint8Array;
  readonly payload: unknown;
}

/** The largest id and hop count a broadcast carries, for measuring a message's worst-case size. */
const WORST_ID = 2 ** 53 - 1;
const WORST_HOPS = 255;

export function checkUserType(type: number): void {
  if (!Number.isInteger(type) || type < FIRST_USER_TYPE || type > MAX_USER_TYPE) {
    throw new GrapevineError('ERR_RESERVED_TYPE', `message type ${type} is reserved or out of range: use ${FIRST_USER_TYPE}..${MAX_USER_TYPE}`);
  }
}

export class Messenger {
  private readonly handlers = new Map<number, Registered>();
  readonly queue: MessageQueue;
  readonly seen: SeenMessages;
  readonly requests: PendingRequests;
  readonly streams: StreamMux;
  /** Live members' names, sorted, for the broadcast tree; kept by memberChanged(). */
  readonly live: LiveOrder;
  private readonly relay: Relay;
  /** Broadcast parts waiting for the next eager push, by origin (their tree differs). */
  private pushPending = new Map<string, Uint8Array[]>();
  private pushSpare = new Map<string, Uint8Array[]>();
  private pushScheduled = false;
  /** Emptied part lists of past push turns, reused (a list per origin per turn was garbage). */
  private freeLists: Uint8Array[][] = [];
  private readonly flushPushSoon = (): void => this.flushPush();
  /** The addresses one push turn sends an origin's parts to; reused. */
  private readonly pushTargets: string[] = [];
  private inboundRequests = 0;
  private stopped = false;

  constructor(private readonly host: MessengerHost) {
    const { cfg, env } = host;
    this.queue = new MessageQueue(cfg.limits.maxQueuedMessages);
    this.live = new LiveOrder(Array.from(host.members.live.values(), (r) => r.name));
    this.relay = new Relay(env.codec);
    this.seen = new SeenMessages(cfg.broadcastDedupWindow, cfg.limits.maxSeenMessages, cfg.limits.maxMembers);
    this.requests = new PendingRequests(env.clock, cfg.limits.maxPendingRequests);
    this.streams = new StreamMux({
      self: () => ({ name: host.members.self.name, address: host.members.self.address }),
      clock: env.clock,
      metrics: env.metrics,
      window: cfg.streamWindowBytes,
      chunkBytes: cfg.streamChunkBytes,
      maxStreams: cfg.limits.maxStreams,
      openTimeout: cfg.requestTimeout,
      send: (to, msg) => this.sendReliable(to, this.encode(msg)),
      hasHandler: (type) => this.handlers.get(type)?.kind === 'stream',
      accept: (ch) => {
        const h = this.handlers.get(ch.type);
        if (h?.kind !== 'stream') return false;
        try {
          h.fn(ch);
        } catch (err) {
          env.logger.error({ err, type: ch.type }, 'stream handler threw');
          return false;
        }
        return true;
      },
    });
  }

  // ---- registry -------------------------------------------------------------------------------

  register(type: number, h: Registered): () => void {
    checkUserType(type);
    if (this.handlers.has(type)) throw new GrapevineError('ERR_DUPLICATE_HANDLER', `a handler for message type ${type} is already registered`);
    this.handlers.set(type, h);
    return () => {
      if (this.handlers.get(type) === h) this.handlers.delete(type);
    };
  }

  // ---- sending --------------------------------------------------------------------------------

  private encode(msg: UserMessage): Uint8Array {
    return this.host.env.codec.encode(userToWire(msg));
  }

  private fits(part: Uint8Array): boolean {
    return this.host.outbox.fitsPacket(part);
  }

  private sendReliable(to: string, part: Uint8Array): Promise<void> {
    return this.host.outbox.sendPartReliable(to, part);
  }

  /** One part to one address: best-effort in a packet (with piggybacked gossip) when it fits. */
  private sendPart(to: string, part: Uint8Array, reliable: boolean): Promise<void> {
    if (reliable || !this.fits(part)) return this.sendReliable(to, part);
    this.host.outbox.sendPart(to, part);
    return Promise.resolve();
  }

  private target(node: string): MemberRecord {
    const r = this.host.members.get(node);
    if (!r || (r.state !== 'alive' && r.state !== 'suspect')) {
      throw new GrapevineError('ERR_UNREACHABLE', `${node} is not a live member`);
    }
    return r;
  }

  sendTo(node: string, type: number, payload: unknown, opts: SendOptions = {}): Promise<void> {
    try {
      checkUserType(type);
      const r = this.target(node);
      const part = this.encode({ s: 0, type, from: this.host.members.self.name, payload });
      return this.sendPart(r.address, part, opts.reliable ?? false);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The payload is encoded once; a failure for one node never holds up the others. */
  async sendToMany(nodes: readonly string[], type: number, payload: unknown, opts: SendOptions = {}): Promise<{ sent: string[]; failed: { node: string; error: unknown }[] }> {
    checkUserType(type);
    const part = this.encode({ s: 0, type, from: this.host.members.self.name, payload });
    const sent: string[] = [];
    const failed: { node: string; error: unknown }[] = [];
    await Promise.all(nodes.map(async (node) => {
      try {
        await this.sendPart(this.target(node).address, part, opts.reliable ?? false);
        sent.push(node);
      } catch (error) {
        failed.push({ node, error });
      }
    }));
    return { sent, failed };
  }

  /**
   * Gossip a message to every live member. Not delivered to the sender itself. Returns the
   * message id (the origin's HLC timestamp).
   */
  broadcast(type: number, payload: unknown): number {
    checkUserType(type);
    const self = this.host.members.self.name;
    const id = this.host.hlc.now();
    this.seen.check(self, id, this.host.env.clock.now());
    const hops = this.host.cfg.broadcastHops > 0 ? this.host.cfg.broadcastHops : hopLimit(this.host.members.liveCount());
    this.spread(self, this.encode({ s: 1, type, origin: self, id, hops, payload }));
    return id;
  }

  /**
   * Encode a broadcast of `payload` as `type` from this node once, to measure it (bytes, fits)
   * and then send it with sendPrepared. The payload must not change in between: with a codec that
   * cannot frame arrays (Codec.frameArray) it is encoded again when sent.
   */
  prepareBroadcast(type: number, payload: unknown): PreparedBroadcast {
    checkUserType(type);
    const part = this.encode({ s: 1, type, origin: this.host.members.self.name, id: WORST_ID, hops: WORST_HOPS, payload });
    const p: Prepared = { type, part, payload, bytes: part.length, fits: this.fits(part) };
    return p;
  }

  /**
   * Broadcast what prepareBroadcast encoded (exactly the message broadcast(type, payload) sends):
   * the payload's bytes are kept and only the header is built (relay.ts); with a codec that cannot
   * frame, it is encoded again. Returns the message id.
   */
  sendPrepared(prepared: PreparedBroadcast): number {
    const p = prepared as Prepared;
    const self = this.host.members.self.name;
    const id = this.host.hlc.now();
    this.seen.check(self, id, this.host.env.clock.now());
    const hops = this.host.cfg.broadcastHops > 0 ? this.host.cfg.broadcastHops : hopLimit(this.host.members.liveCount());
    const part = this.relay.rehead([9, 1, p.type, self, WORST_ID, WORST_HOPS], [9, 1, p.type, self, id, hops], p.part)
      ?? this.encode({ s: 1, type: p.type, origin: self, id, hops, payload: p.payload });
    this.spread(self, part);
    return id;
  }

  /** Cached broadcastPayloadBudget(): the packet budget and wrappers do not change after start. */
  private payloadBudget: number | undefined;

  /**
   * Encoded bytes of the broadcast message that would carry `payload` as `type` from this node,
   * measured with the largest id and hop count, so the message actually sent (or relayed) is
   * never larger.
   */
  broadcastBytes(type: number, payload: unknown): number {
    return this.encode({ s: 1, type, origin: this.host.members.self.name, id: WORST_ID, hops: WORST_HOPS, payload }).length;
  }

  /**
   * Exact: the broadcast of `payload` as `type` rides one best-effort packet, so it gets the eager
   * push and the piggyback redundancy (a larger one goes reliable to a few peers instead).
   */
  broadcastFits(type: number, payload: unknown): boolean {
    return this.fits(this.encode({ s: 1, type, origin: this.host.members.self.name, id: WORST_ID, hops: WORST_HOPS, payload }));
  }

  /**
   * Bytes an encoded payload (codec size of the payload alone) may take for its broadcast to fit
   * one best-effort packet: the packet budget minus envelope, label, cipher and broadcast header.
   * A lower bound (the header is measured for the longest type, id and hop count).
   */
  broadcastPayloadBudget(): number {
    if (this.payloadBudget !== undefined) return this.payloadBudget;
    // fitsPacket looks at the length only: the largest part that fits, by bisection.
    let lo = 0;
    let hi = 65_536;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.fits(new Uint8Array(mid))) lo = mid;
      else hi = mid - 1;
    }
    const header = this.broadcastBytes(MAX_USER_TYPE, null) - this.host.env.codec.encode(null).length;
    return (this.payloadBudget = Math.max(0, lo - header));
  }

  /** Eager push along the tree on the next turn, plus the piggyback queue for redundancy. */
  private spread(origin: string, part: Uint8Array): void {
    let list = this.pushPending.get(origin);
    if (!list) this.pushPending.set(origin, (list = this.freeLists.pop() ?? []));
    list.push(part);
    if (this.fits(part)) {
      const before = this.queue.dropped;
      this.queue.enqueue(part);
      if (this.queue.dropped !== before) this.host.env.metrics.increment('grapevine.broadcast.queue-dropped');
    }
    if (!this.pushScheduled) {
      this.pushScheduled = true;
      // After this turn (clock.soon, else a zero-delay timer): every broadcast of the turn goes in
      // as few packets as possible, without waiting for a host timer.
      runSoon(this.host.env.clock, this.flushPushSoon);
    }
  }

  private flushPush(): void {
    this.pushScheduled = false;
    if (this.stopped) return;
    // Two maps taken in turn rather than a new one per turn (this runs for every broadcast turn,
    // and every relay's): what is spread while this one is walked goes into the other.
    const pending = this.pushPending;
    this.pushPending = this.pushSpare;
    const cfg = this.host.cfg;
    this.turnFanout = pushFanout(this.live.size, cfg.broadcastFanout, cfg.broadcastDirectMax);
    // forEach with a callback made once: a for-of over the map built an entry array per origin.
    pending.forEach(this.pushOrigin);
    pending.clear();
    this.pushSpare = pending;
    this.host.scheduleEagerGossip();
  }

  /** The fan-out of the push turn being flushed (set by flushPush for pushOrigin). */
  private turnFanout = 0;

  /** One origin's parts of a push turn, to its tree children (or random peers). */
  private readonly pushOrigin = (parts: Uint8Array[], origin: string): void => {
    const cfg = this.host.cfg;
    const self = this.host.members.self.name;
    const fanout = this.turnFanout;
    const children = treeChildren(this.live.names, self, origin, fanout);
    // Nearly always every part fits a packet: then no arrays are built to split them.
    let small: Uint8Array[] = parts;
    let large: Uint8Array[] | undefined;
    if (!this.allFit(parts)) {
      small = parts.filter((p) => this.fits(p));
      large = parts.filter((p) => !this.fits(p));
    }
    if (children && !large) {
      // The common case, per broadcast turn of every relay: the children's addresses are read in
      // place (members.peek), with no record built per child, and the packets are sealed once
      // for all of them (Outbox.pushPartsTo).
      const to = this.pushTargets;
      to.length = 0;
      for (const name of children) {
        const address = this.addressOf(name);
        if (address !== undefined) to.push(address);
      }
      this.host.outbox.pushPartsTo(to, small);
      this.recycle(parts);
      return;
    }
    const targets = children ? this.records(children) : this.host.randomPeers(cfg.broadcastFanout, origin);
    for (const t of targets) {
      if (small.length > 0) this.host.outbox.pushParts(t.address, small);
      if (large) for (const p of large) this.sendReliable(t.address, p).catch(() => this.host.env.metrics.increment('grapevine.broadcast.push-failed'));
    }
    // Large messages can't ride the piggyback queue: one extra reliable copy to random peers
    // stands in for its redundancy.
    if (large && large.length > 0) {
      const skip = new Set(targets.map((t) => t.name));
      for (const r of this.host.randomPeers(cfg.broadcastFanout, origin)) {
        if (skip.has(r.name)) continue;
        for (const p of large) this.sendReliable(r.address, p).catch(() => this.host.env.metrics.increment('grapevine.broadcast.push-failed'));
      }
    }
    this.recycle(parts);
  };

  /** An emptied part list back for reuse; a few at most (one per origin of a turn) are kept. */
  private recycle(parts: Uint8Array[]): void {
    if (this.freeLists.length >= 64) return;
    parts.length = 0;
    this.freeLists.push(parts);
  }

  /**
   * A member's address (this node's own included), read in place: members.get builds a record
   * object per call, and this runs for every first broadcast copy and every child of every push.
   */
  private addressOf(name: string): string | undefined {
    const self = this.host.members.self;
    return name === self.name ? self.address : this.host.members.peek(name)?.address;
  }

  private allFit(parts: readonly Uint8Array[]): boolean {
    for (const p of parts) if (!this.fits(p)) return false;
    return true;
  }

  /** The member records of `names` that are still members, skipping any that are not. */
  private records(names: readonly string[]): MemberRecord[] {
    const out: MemberRecord[] = [];
    for (const n of names) {
      const r = this.host.members.get(n);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  request(node: string, type: number, payload: unknown, opts: RequestOptions = {}): Promise<unknown> {
    let r: MemberRecord;
    try {
      checkUserType(type);
      r = this.target(node);
    } catch (err) {
      return Promise.reject(err);
    }
    const self = this.host.members.self;
    const timeout = opts.timeout ?? this.host.cfg.requestTimeout;
    return this.requests.start(r.name, timeout, opts.signal, (reqId) => {
      const part = this.encode({ s: 2, type, from: self.name, fromAddr: self.address, reqId, payload });
      return this.sendPart(r.address, part, opts.reliable ?? true);
    });
  }

  openStream(node: string, type: number, header: unknown): Promise<StreamChannel> {
    try {
      checkUserType(type);
      const r = this.target(node);
      return this.streams.open(r.name, r.address, type, header);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // ---- receiving ------------------------------------------------------------------------------

  /** Where peekDuplicate reads a part's leading elements; reused, so a peek allocates no array. */
  private readonly head: unknown[] = [];

  /**
   * True when `part` is a copy of a broadcast already seen (or below its origin's floor), read
   * from its header alone: counted as receive() would count it, and then not decoded at all. Most
   * broadcast copies that arrive are such duplicates (the piggyback redundancy), and decoding
   * each payload only to drop it was most of the receive path's garbage (docs/mesh.md). Nothing
   * is recorded here: a part whose header is new goes on to the full decode and validation, and
   * only a first copy that passes them marks its id seen, as before. False whenever the codec
   * cannot peek or the header is not a well-formed gossip header; never throws.
   */
  peekDuplicate(part: Uint8Array): boolean {
    const codec = this.host.env.codec;
    if (codec.peekArray === undefined) return false;
    const h = this.head;
    let verdict;
    try {
      // Two elements first: most parts that are not broadcasts stop there, before any string.
      if (codec.peekArray(part, 2, h) < 2 || h[0] !== 9 || h[1] !== 1) return false;
      if (codec.peekArray(part, 6, h) < 6 || !isGossipHead(h, this.host.cfg.limits)) return false;
      verdict = this.seen.lookup(h[3] as string, h[4] as number, this.host.env.clock.now());
    } catch {
      return false; // a third-party codec's peek that throws: decode as before
    }
    if (verdict === 'new') return false;
    this.host.env.metrics.increment(verdict === 'duplicate' ? 'grapevine.broadcast.duplicate' : 'grapevine.broadcast.stale');
    return true;
  }

  /**
   * One decoded kind-9 part. `part` is the bytes it was decoded from, when the caller has them: a
   * broadcast is then relayed as those bytes with a new hop count (relay.ts), not re-encoded.
   */
  receive(value: unknown[], info: InboundInfo, part?: Uint8Array): void {
    const m = this.host.env.metrics;
    const msg = parseUserMessage(value, this.host.cfg.limits);
    if (!msg) {
      m.increment('grapevine.drop.invalid');
      return;
    }
    switch (msg.s) {
      case 0: {
        const h = this.handlers.get(msg.type);
        if (h?.kind !== 'message') return m.increment('grapevine.user.unhandled');
        return this.deliver(h.fn, msg.payload, {
          from: msg.from, address: this.addressOf(msg.from), type: msg.type, broadcast: false, reliable: info.reliable,
        });
      }
      case 1: return this.onGossip(msg, info, part);
      case 2: return this.onRequest(msg, info);
      case 3:
        if (!this.requests.reply(msg)) m.increment('grapevine.user.late-reply');
        return;
      default:
        return this.streams.receive(msg);
    }
  }

  private deliver(fn: MessageHandler, payload: unknown, info: MessageInfo): void {
    try {
      fn(payload, info);
    } catch (err) {
      this.host.env.metrics.increment('grapevine.user.handler-error');
      this.host.env.logger.error({ err, type: info.type }, 'message handler threw');
    }
  }

  private onGossip(msg: GossipMsg, info: InboundInfo, part: Uint8Array | undefined): void {
    const m = this.host.env.metrics;
    const verdict = this.seen.check(msg.origin, msg.id, this.host.env.clock.now());
    if (verdict !== 'new') {
      // Constant names: most broadcast copies that arrive are duplicates (the piggyback
      // redundancy), and a name built per copy was a string to allocate and hash each time.
      m.increment(verdict === 'duplicate' ? 'grapevine.broadcast.duplicate' : 'grapevine.broadcast.stale');
      return;
    }
    const h = this.handlers.get(msg.type);
    if (h?.kind === 'message') {
      this.deliver(h.fn, msg.payload, {
        from: msg.origin, address: this.addressOf(msg.origin), type: msg.type, broadcast: true, id: msg.id, hops: msg.hops, reliable: info.reliable,
      });
      if (!h.forward) return;
    } else {
      // Relays forward types they don't handle, so nodes on different versions still spread them.
      m.increment('grapevine.user.unhandled');
    }
    if (msg.hops <= 1) {
      m.increment('grapevine.broadcast.hop-limit');
      return;
    }
    const mismatched = this.relay.mismatched;
    const relayed = part === undefined ? undefined : this.relay.reframe(msg, part);
    m.increment('grapevine.broadcast.relayed');
    if (this.relay.mismatched !== mismatched) m.increment('grapevine.broadcast.relay-reencoded');
    this.spread(msg.origin, relayed ?? this.encode({ ...msg, hops: msg.hops - 1 }));
  }

  private onRequest(msg: RequestMsg, info: InboundInfo): void {
    const self = this.host.members.self.name;
    const reply = (status: number, payload: unknown): void => {
      const part = this.encode({ s: 3, reqId: msg.reqId, from: self, status, payload });
      this.sendPart(msg.fromAddr, part, info.reliable).catch(() => this.host.env.metrics.increment('grapevine.user.reply-failed'));
    };
    const h = this.handlers.get(msg.type);
    if (h?.kind !== 'request') return reply(ReplyStatus.noHandler, null);
    if (this.inboundRequests >= this.host.cfg.limits.maxInboundRequests) {
      this.host.env.metrics.increment('grapevine.user.busy');
      return reply(ReplyStatus.busy, null);
    }
    this.inboundRequests++;
    const fail = (err: unknown): void => {
      const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'ERR_HANDLER';
      reply(ReplyStatus.error, [code, err instanceof Error ? err.message : String(err)]);
    };
    let result: unknown;
    try {
      result = h.fn(msg.payload, { from: msg.from, address: msg.fromAddr, type: msg.type, broadcast: false, reliable: info.reliable });
    } catch (err) {
      this.inboundRequests--;
      return fail(err);
    }
    // Any thenable, not only native promises: handlers may return another library's promise.
    if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
      Promise.resolve(result).then(
        (v) => { this.inboundRequests--; reply(ReplyStatus.ok, v ?? null); },
        (err: unknown) => { this.inboundRequests--; fail(err); },
      );
      return;
    }
    this.inboundRequests--;
    reply(ReplyStatus.ok, result ?? null);
  }

  /** A member changed state: `live` is whether it is now alive or suspect. */
  memberChanged(name: string, live: boolean): void {
    this.live.set(name, live);
  }

  /** A member is dead or gone: fail what waits on it now. */
  memberGone(name: string): void {
    this.requests.targetGone(name);
    this.streams.peerGone(name);
  }

  stop(): void {
    this.stopped = true;
    this.requests.closeAll();
    this.streams.closeAll();
    this.queue.clear();
  }
}
