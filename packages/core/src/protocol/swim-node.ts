/**
 * One member of a cluster, as pure protocol: the membership table, the prober, dissemination,
 * push-pull, join, leave and healing, all driven by the injected clock and randomness, all output
 * through the injected send functions. The Cluster driver wraps this with transports and the API.
 */
import type { TimerHandle } from '../clock.js';
import { TimerGroup } from '../timer-group.js';
import type { ProtocolConfig } from '../config.js';
import { GrapevineError } from '../errors.js';
import { HybridLogicalClock } from '../hlc.js';
import type { MemberEvent } from '../member.js';
import { sampleFrom } from './indexed-set.js';
import type { InboundInfo } from '../transport.js';
import { WirePipeline } from '../wire/pipeline.js';
import { Awareness } from './awareness.js';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.js';
import { Membership, type MemberRecord } from './membership.js';
import { metaBytes, parseMessage, type Alive, type Dead, type Message, type Suspect } from './messages.js';
import type { NodeEnv } from './node-env.js';
import { Outbox } from './outbox.js';
import { Prober } from './prober.js';
import { PushPullExchange, pushPullScale } from './push-pull.js';
import { AntiEntropy } from './anti-entropy.js';
import { Dissemination } from './dissemination.js';
import { isHeldAlive, isHeldState, isHeldStateWire } from './held-news.js';
import { Messenger, type MessengerHost } from '../messaging/messenger.js';
import { VersionGate } from './versions.js';
import { ViewDigest } from './view-digest.js';
import { ViewSync } from './view-sync.js';
import { Reconciler } from './reconcile.js';
import { PROTOCOL_VERSION } from './messages.js';
import { freshInstance, nextInstance } from './incarnation.js';
import { Introductions, type Introducer } from './introductions.js';
import { UnansweredBudget } from './unanswered-budget.js';

/** Bucket sums a node keeps until its view has more members (view-digest.ts, startAt). */
const DIGEST_START_BUCKETS = 1024;

export interface NodeIdentity {
  name: string;
  address: string;
  meta: Record<string, string>;
  /** The application version peers check (see CompatibilityCheck). */
  appVersion?: string;
}

export class SwimNode implements MessengerHost {
  readonly members: Membership;
  readonly queue: BroadcastQueue;
  readonly awareness: Awareness;
  readonly outbox: Outbox;
  readonly prober: Prober;
  readonly pushPull: PushPullExchange;
  readonly hlc: HybridLogicalClock;
  readonly wire: WirePipeline;
  readonly messenger: Messenger;
  readonly versions: VersionGate;
  /** Members heard of from untrusted sources, waiting for their address to answer. */
  readonly introductions: Introductions;
  /** Caps what goes to addresses that never answered. */
  readonly unanswered: UnansweredBudget;
  /** Digest of the live view, kept current by disseminate() and onEvent() (every record change passes one). */
  readonly viewDigest: ViewDigest;
  readonly viewSync: ViewSync;
  readonly reconciler: Reconciler;
  /** The member the table just added (Membership's `added` hook runs right before its disseminate). */
  private fresh: string | undefined;
  /** True while an introduction is admitted quietly (see the introductions' admit hook). */
  private admitting = false;
  readonly dissemination: Dissemination;
  readonly antiEntropy: AntiEntropy;
  private readonly timers: TimerGroup;
  private started = false;
  private stopped = false;

  constructor(readonly env: NodeEnv, readonly cfg: ProtocolConfig, id: NodeIdentity) {
    this.timers = new TimerGroup(env.clock);
    this.hlc = new HybridLogicalClock(() => env.clock.now());
    const instance = freshInstance(env.clock.now(), env.random);
    this.queue = new BroadcastQueue(cfg.limits.maxQueuedBroadcasts);
    this.awareness = new Awareness(cfg.awarenessMaxMultiplier);
    const appVersion = id.appVersion ?? '';
    this.versions = new VersionGate({ protocol: PROTOCOL_VERSION, app: appVersion }, env.compatible, (name, reason) => {
      env.metrics.increment('grapevine.refused.incompatible');
      env.logger.warn({ member: name, reason }, 'refusing an incompatible node');
    }, cfg.limits.maxMembers);
    this.members = new Membership(
      {
        name: id.name, address: id.address, incarnation: 0, instance, meta: Object.freeze({ ...id.meta }), metaVersion: this.hlc.now(),
        protocol: PROTOCOL_VERSION, appVersion,
      },
      cfg, env.clock,
      {
        disseminate: (name, msg) => this.disseminate(name, msg),
        emit: (ev) => this.onEvent(ev),
        selfAccused: () => this.awareness.applyDelta(1),
        added: (name) => {
          this.prober.added(name);
          this.fresh = name;
        },
        log: (level, obj, msg) => env.logger[level](obj, msg),
        count: (metric) => env.metrics.increment(`grapevine.${metric}`),
        compatible: (name, protocol, app) => this.versions.check(name, protocol, app) === null,
        nextInstance: (current) => nextInstance(current, env.clock.now(), env.random),
        introduce: (a, via) => this.introductions.offer(a, via),
        settled: (name) => {
          if (this.introductions.has(name)) this.introductions.settle(name);
        },
      },
      env.stringPool,
    );
    // The digest keeps its per-member values in the table's columns (docs/scale.md#memory).
    // Up to 1,024 members the sums are kept at 1,024 buckets at most, finer as the view grows.
    this.viewDigest = new ViewDigest(cfg.reconcileMaxBuckets, this.members.digestStore, DIGEST_START_BUCKETS);
    this.introductions = new Introductions(
      {
        max: cfg.maxIntroductions, perSource: cfg.introductionsPerSource, probesPerPeriod: cfg.introductionProbesPerPeriod,
        attempts: cfg.introductionAttempts, rememberFor: cfg.deadRetention,
      },
      {
        now: () => env.clock.now(),
        ping: (name, addr, done) => this.prober.verify(name, addr, done),
        admit: (a) => {
          // With reconciliation on, an introduced member is learned quietly, as one from a
          // push-pull's states is: the stranger that named it is already spreading its news.
          this.admitting = cfg.reconcile && cfg.viewDigest;
          try {
            this.members.onAlive(a);
          } finally {
            this.admitting = false;
          }
        },
        count: (metric) => env.metrics.increment(`grapevine.${metric}`),
        trusted: (source) => this.trustedAddress(source),
      },
    );
    this.unanswered = new UnansweredBudget(
      { window: cfg.unansweredWindow, perAddress: cfg.unansweredBytesPerAddress, total: cfg.unansweredBytesTotal, maxAddresses: cfg.unansweredMaxAddresses },
      env.clock,
      (addr) => this.trustedAddress(addr),
      () => env.metrics.increment('grapevine.send.unanswered-capped'),
    );
    // Every send goes through the budget for addresses that never answered.
    const guarded: NodeEnv = {
      ...env,
      sendPacket: (to, data) => {
        if (this.unanswered.allow(to, data.length)) env.sendPacket(to, data);
      },
      sendReliable: (to, data) => this.unanswered.allow(to, data.length)
        ? env.sendReliable(to, data)
        : Promise.reject(new GrapevineError('ERR_LIMIT', `send budget for ${to} (an address that never answered) is spent`)),
    };
    this.viewDigest.update(this.members.self.name, this.members.self);
    this.wire = new WirePipeline({
      codecId: env.codec.id, clock: env.clock, limits: cfg.limits, label: env.label,
      compressor: env.compressor, compressThreshold: cfg.compressThreshold,
      encryption: env.encryption && { ...env.encryption, maxClockSkew: cfg.maxClockSkew, replayCacheSize: cfg.limits.maxReplayCache },
    });
    this.outbox = new Outbox(guarded, this.wire, this.queue, cfg.packetBudget, cfg.limits, () => this.retransmitLimit());
    this.prober = new Prober(env, cfg, this.members, this.awareness, this.outbox);
    this.outbox.piggybackTo = (addr) => this.trustedAddress(addr);
    this.pushPull = new PushPullExchange(
      env, this.members, this.outbox, () => cfg.joinTimeout, this.versions,
      (addr) => this.trustedAddress(addr),
      (name, addr, done) => this.prober.verify(name, addr, done),
      cfg.pushPullMaxMembers,
    );
    // A push-pull state exactly as held changes nothing: skipped before the merge (held-news.ts).
    this.pushPull.skipHeld = (s) => {
      const r = this.members.peek(s.name);
      return r !== undefined && isHeldState(s, r) && !this.introductions.has(s.name);
    };
    const timer = (fn: () => void, ms: number): TimerHandle => this.timers.set(fn, ms);
    this.antiEntropy = new AntiEntropy({
      env, cfg, members: this.members, pushPull: this.pushPull, viewDigest: this.viewDigest, timer, stopped: () => this.stopped,
    });
    this.viewSync = new ViewSync(env, cfg, this.members, this.viewDigest, (addr, name) => {
      // A disagreement that lasted several probe periods gets both repairs: reconciliation is urged
      // to pull what differs now, and the digest push-pull still runs. Deferring the push-pull while
      // reconciliation was active left a 5-agent WebSocket cluster with a member unseen for over
      // 20 s under load (the suite's cli-ws test), and saved nothing measurable at N=500.
      if (this.reconciler.handling()) this.reconciler.urge(name);
      this.antiEntropy.checkViewDigest();
      this.pushPull.exchange(addr, false).catch(() => env.metrics.increment('grapevine.view-digest.sync-failed'));
    });
    this.dissemination = new Dissemination({
      env, cfg, members: this.members, queue: this.queue, outbox: this.outbox, viewDigest: this.viewDigest, timer,
      userQueued: () => this.messenger.queue.size, running: () => this.started && !this.stopped,
    });
    this.reconciler = new Reconciler({
      env, cfg, members: this.members, digest: this.viewDigest, outbox: this.outbox,
      trusted: (addr) => this.trustedAddress(addr),
      merge: (from, states, via) => this.pushPull.mergeStates(from, states, via),
    });
    this.viewSync.onMismatch = (from) => this.reconciler.noteMismatch(from);
    this.pushPull.quietStates = cfg.reconcile && cfg.viewDigest;
    this.outbox.stamp = (msg) => this.viewSync.stamp(msg);
    this.messenger = new Messenger(this);
    this.outbox.userQueue = this.messenger.queue;
  }

  /** A member's address (any state) or a seed's: news from it is applied, sends to it are not capped. */
  trustedAddress(addr: string): boolean {
    return this.antiEntropy.isGiven(addr) || this.members.hasAddress(addr);
  }

  private introducer(info: InboundInfo): Introducer {
    return { key: info.from, trusted: this.trustedAddress(info.from) };
  }

  /** Up to k random live members other than this node and `exclude` (O(k), see indexed-set.ts). */
  randomPeers(k: number, exclude?: string): MemberRecord[] {
    const self = this.members.self;
    return sampleFrom(this.env.random, [this.members.live], k, (r) => r !== self && r.name !== exclude);
  }

  get name(): string {
    return this.members.self.name;
  }

  retransmitLimit(): number {
    return retransmitLimit(this.cfg.retransmitMult, this.members.liveCount());
  }

  private timer(fn: () => void, ms: number): TimerHandle {
    return this.timers.set(fn, ms);
  }

  /** Arm the periodic work. Staggered at random so a cluster started at once does not tick in step. */
  start(seeds: string[] = []): void {
    if (this.started) return;
    this.started = true;
    this.antiEntropy.useSeeds(seeds);
    // Our own alive rides the first packets we send, so members we reach directly learn of us
    // without waiting for the seed's gossip.
    this.queue.enqueue(this.members.self.name, this.outbox.encode(this.members.aliveMessage()));
    const r = this.env.random;
    const probeLoop = (): void => {
      this.prober.tick();
      this.introductions.tick();
      this.reap();
      this.timer(probeLoop, this.awareness.scale(this.cfg.probeInterval));
    };
    this.timer(probeLoop, r.next() * this.cfg.probeInterval);
    const gossipLoop = (): void => {
      this.dissemination.gossip();
      this.timer(gossipLoop, this.cfg.gossipInterval);
    };
    this.timer(gossipLoop, r.next() * this.cfg.gossipInterval);
    if (this.cfg.pushPullInterval > 0) {
      // Like memberlist: a random stagger, then a full (N-scaled) interval before the first one.
      const ppLoop = (): void => {
        this.antiEntropy.periodicPushPull();
        this.timer(ppLoop, pushPullScale(this.cfg.pushPullInterval, this.members.liveCount()));
      };
      this.timer(() => this.timer(ppLoop, pushPullScale(this.cfg.pushPullInterval, this.members.liveCount())), r.next() * this.cfg.pushPullInterval);
    }
    if (this.cfg.reconcile && this.cfg.viewDigest) {
      const reconcileLoop = (): void => {
        this.reconciler.tick();
        this.timer(reconcileLoop, this.cfg.reconcileInterval);
      };
      this.timer(reconcileLoop, r.next() * this.cfg.reconcileInterval);
    }
    if (this.cfg.reconnectInterval > 0) {
      const reconnectLoop = (): void => {
        this.antiEntropy.heal();
        this.timer(reconnectLoop, this.cfg.reconnectInterval);
      };
      this.timer(reconnectLoop, this.cfg.reconnectInterval * (0.5 + r.next()));
    }
  }

  /** Runs as the change happens: ev.member is the member as the table holds it now. */
  private onEvent(ev: MemberEvent): void {
    const m = ev.member;
    this.messenger.memberChanged(m.name, m.state === 'alive' || m.state === 'suspect');
    this.viewDigest.update(m.name, m);
    if (ev.type === 'dead' || ev.type === 'left') this.messenger.memberGone(ev.member.name);
    this.antiEntropy.observe();
    this.env.emit(ev);
  }

  // ---- dissemination --------------------------------------------------------------------------

  /**
   * News a table change produced. The first alive of a member new to us is a join's news: learned
   * by reconciliation, or from a push-pull's states other than its sender's own while
   * reconciliation runs, it is not gossiped on; otherwise it gets joinRetransmits transmissions
   * when that is set (reconcile.ts says why both are safe).
   */
  disseminate(name: string, msg: Alive | Suspect | Dead): void {
    const fresh = this.fresh === name && msg.k === 5;
    this.fresh = undefined;
    if (fresh && (this.reconciler.merging || this.pushPull.merging || this.admitting)) {
      this.env.metrics.increment('grapevine.reconcile.learned');
      this.dissemination.note(name);
      return;
    }
    const max = fresh && this.cfg.reconcile && this.cfg.joinRetransmits > 0 ? this.cfg.joinRetransmits : undefined;
    this.dissemination.disseminate(name, msg, max);
  }

  scheduleEagerGossip(): void {
    this.dissemination.scheduleEagerGossip();
  }

  gossip(): void {
    this.dissemination.gossip();
  }

  // ---- receive ----------------------------------------------------------------------------------

  /** The receive path. Never throws: every malformed input is dropped and counted. */
  receive(data: Uint8Array, info: InboundInfo): void {
    if (this.stopped) return;
    const m = this.env.metrics;
    const env = this.wire.open(data);
    if (typeof env === 'string') {
      m.increment(`grapevine.drop.${env}`);
      return;
    }
    let deferred: Message[] | undefined;
    for (const part of env.parts) {
      // A broadcast copy already seen is dropped by its header, its payload never decoded.
      if (this.messenger.peekDuplicate(part)) continue;
      let value: unknown;
      try {
        value = this.env.codec.decode(part);
      } catch {
        m.increment('grapevine.drop.decode');
        continue;
      }
      if (Array.isArray(value)) {
        if (value[0] === 9) {
          // safely(), without a closure built per part.
          try {
            this.messenger.receive(value, info, part);
          } catch (err) {
            this.internalError(err);
          }
          continue;
        }
        if (value[0] === 5) {
          m.increment('grapevine.alive.received');
          if (this.holdsAlready(value)) {
            m.increment('grapevine.alive.held');
            continue;
          }
        }
      }
      const msg = parseMessage(value, this.cfg.limits, this.heldState);
      if (!msg) {
        const known = Array.isArray(value) && typeof value[0] === 'number' && value[0] >= 1 && value[0] <= 12;
        m.increment(known ? 'grapevine.drop.invalid' : 'grapevine.drop.unknown-type');
        continue;
      }
      if (msg.k === 8 || msg.k === 11 || msg.k === 12) this.countStates(msg.k, value as unknown[], msg.states.length);
      if (msg.k === 5 && msg.addr !== info.from && !this.trustedAddress(info.from)) {
        // News of others from a source we do not know yet: the sender's own alive may come later
        // in this envelope and make it known, so this waits for the end of the envelope.
        (deferred ??= []).push(msg);
        continue;
      }
      this.dispatchSafely(msg, info);
    }
    if (deferred) for (const msg of deferred) this.dispatchSafely(msg, info);
    // Digests are compared once the packet's piggybacked updates are applied (view-sync.ts).
    try {
      this.viewSync.settle();
    } catch (err) {
      this.internalError(err);
    }
  }

  /** dispatch() guarded like safely(), without a closure built per message of every packet. */
  private dispatchSafely(msg: Message, info: InboundInfo): void {
    try {
      this.dispatch(msg, info);
    } catch (err) {
      this.internalError(err);
    }
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.internalError(err);
    }
  }

  private internalError(err: unknown): void {
    this.env.metrics.increment('grapevine.internal-error');
    this.env.logger.error({ err }, 'error handling a message');
  }

  private dispatch(msg: Message, info: InboundInfo): void {
    switch (msg.k) {
      case 1:
        if (msg.target === this.members.self.name) this.viewSync.observe(msg.from, msg.digest);
        return this.prober.onPing(msg, info);
      case 2: return this.prober.onPingReq(msg);
      case 3:
        if (msg.from !== undefined) this.viewSync.observe(msg.from, msg.digest);
        return this.prober.onAck(msg.seq, info);
      case 4: return this.prober.onNack(msg.seq);
      case 5:
        this.hlc.observe(msg.metaVer);
        return this.members.onAlive(msg, this.introducer(info));
      case 6: return this.members.onSuspect(msg);
      case 7: return this.members.onDead(msg);
      case 8: return this.pushPull.onPushPull(msg, info);
      case 10: return this.reconciler.onRequest(msg);
      case 11: return this.reconciler.onReply(msg, info);
      case 12: return this.reconciler.onPush(msg, info);
    }
  }

  /**
   * A member state in a push-pull or reconciliation list that we hold exactly (and have no
   * introduction of pending): skipped by parseMessage before a state object is built, as the
   * merge would skip it anyway (held-news.ts). Counted (countStates), so a run's counters show
   * facts received against facts held.
   */
  private readonly heldState = (v: readonly unknown[]): boolean => {
    const name = v[0];
    if (typeof name !== 'string') return false;
    const r = this.members.peek(name);
    return r !== undefined && isHeldStateWire(v, r) && !this.introductions.has(name);
  };

  /** Member states a push-pull (8) or reconciliation (11, 12) carried, and how many were held. */
  private countStates(k: 8 | 11 | 12, raw: unknown[], parsed: number): void {
    const received = (raw[k === 8 ? 5 : k === 11 ? 6 : 2] as unknown[]).length;
    const m = this.env.metrics;
    const what = k === 8 ? 'pushpull' : 'reconcile';
    m.increment(`grapevine.${what}.states-received`, received);
    m.increment(`grapevine.${what}.states-held`, received - parsed);
  }

  /**
   * A decoded alive we hold exactly, with no introduction of it pending: most alives a node
   * receives during a mass join are such copies, and they are dropped here, before validation
   * and the merge, since neither could change anything (held-news.ts).
   */
  private holdsAlready(v: unknown[]): boolean {
    const name = v[1];
    if (typeof name !== 'string') return false;
    const r = this.members.peek(name);
    return r !== undefined && isHeldAlive(v, r) && !this.introductions.has(name);
  }

  // ---- join, anti-entropy, healing ---------------------------------------------------------

  /**
   * Push-pull with every seed at once; resolves with how many answered (anti-entropy.ts). With
   * none, retries with backoff, then rejects with ERR_JOIN_FAILED.
   */
  join(seeds: string[]): Promise<number> {
    return this.antiEntropy.join(seeds);
  }

  /** Replace the seeds healing re-contacts (a discovery provider found new addresses). */
  setSeeds(seeds: string[]): void {
    this.antiEntropy.setSeeds(seeds);
  }

  get currentSeeds(): readonly string[] {
    return this.antiEntropy.currentSeeds;
  }

  heal(): void {
    this.antiEntropy.heal();
  }

  private reap(): void {
    const gone = this.members.reap(this.env.clock.now(), this.cfg.deadRetention);
    for (const name of gone) {
      this.queue.remove(name);
      this.viewDigest.update(name, undefined);
    }
  }

  // ---- metadata and leave ----------------------------------------------------------------------

  setMeta(meta: Record<string, string>): void {
    if (Object.keys(meta).length > this.cfg.limits.maxMetaKeys || metaBytes(meta) > this.cfg.limits.maxMetaBytes) {
      throw new GrapevineError('ERR_LIMIT', `metadata over the limit (${this.cfg.limits.maxMetaKeys} keys, ${this.cfg.limits.maxMetaBytes} bytes)`);
    }
    for (const [k, v] of Object.entries(meta)) {
      if (k.length === 0 || typeof v !== 'string') throw new GrapevineError('ERR_INVALID_OPTION', 'metadata keys must be non-empty and values strings');
    }
    this.members.updateSelfMeta(meta, this.hlc.now());
  }

  /**
   * Graceful leave: announce our own departure to every live member at once (so all see it in
   * one round trip), queue it for gossip as well, and give it leavePropagateDelay to spread.
   */
  async leave(): Promise<void> {
    if (this.members.leaving || this.stopped) return;
    const self = this.members.self;
    this.members.leaving = true;
    const msg: Dead = { k: 7, name: self.name, inc: self.incarnation, from: self.name, inst: self.instance };
    this.queue.enqueue(self.name, this.outbox.encode(msg));
    for (const r of this.members.live.toArray()) {
      if (r !== self) this.outbox.send(r.address, msg, false);
    }
    this.members.selfLeft();
    this.viewDigest.update(self.name, self);
    if (this.cfg.leavePropagateDelay > 0) {
      await new Promise<void>((resolve) => this.env.clock.setTimer(resolve, this.cfg.leavePropagateDelay));
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.stop();
    this.prober.stop();
    this.pushPull.stop();
    this.members.stopAll();
    this.messenger.stop();
    this.introductions.clear();
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}
