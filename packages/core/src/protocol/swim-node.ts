/**
 * One member of a cluster, as pure protocol: the membership table, the prober, dissemination,
 * push-pull, join, leave and healing, all driven by the injected clock and randomness, all output
 * through the injected send functions. The Cluster driver wraps this with transports and the API.
 */
import type { TimerHandle } from '../clock.js';
import { TimerGroup } from '../timer-group.js';
import type { ProtocolConfig } from '../config.js';
import { allFinal, joinError } from './join-failure.js';
import { GrapevineError } from '../errors.js';
import { HybridLogicalClock } from '../hlc.js';
import type { MemberEvent } from '../member.js';
import { randomInt } from '../random.js';
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
import { Messenger, type MessengerHost } from '../messaging/messenger.js';
import { VersionGate } from './versions.js';
import { ViewDigest } from './view-digest.js';
import { ViewSync } from './view-sync.js';
import { PROTOCOL_VERSION } from './messages.js';
import { freshInstance, nextInstance } from './incarnation.js';
import { Introductions, type Introducer } from './introductions.js';
import { UnansweredBudget } from './unanswered-budget.js';

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
  readonly viewDigest = new ViewDigest();
  readonly viewSync: ViewSync;
  private readonly timers: TimerGroup;
  /** Seeds and join targets: operator-given addresses, trusted like members'. */
  private readonly givenAddresses = new Set<string>();
  private eagerPending = false;
  private started = false;
  private stopped = false;
  private seeds: string[] = [];
  /** Peak number of other live members seen; fewer now means we lost some and should heal. */
  private peakOthers = 0;

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
        added: (name) => this.prober.added(name),
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
    this.introductions = new Introductions(
      {
        max: cfg.maxIntroductions, perSource: cfg.introductionsPerSource, probesPerPeriod: cfg.introductionProbesPerPeriod,
        attempts: cfg.introductionAttempts, rememberFor: cfg.deadRetention,
      },
      {
        now: () => env.clock.now(),
        ping: (name, addr, done) => this.prober.verify(name, addr, done),
        admit: (a) => this.members.onAlive(a),
        count: (metric) => env.metrics.increment(`grapevine.${metric}`),
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
    this.viewSync = new ViewSync(env, cfg, this.members, this.viewDigest, (addr) => {
      this.checkViewDigest();
      this.pushPull.exchange(addr, false).catch(() => env.metrics.increment('grapevine.view-digest.sync-failed'));
    });
    this.outbox.stamp = (msg) => this.viewSync.stamp(msg);
    this.messenger = new Messenger(this);
    this.outbox.userQueue = this.messenger.queue;
  }

  /** A member's address (any state) or a seed's: news from it is applied, sends to it are not capped. */
  trustedAddress(addr: string): boolean {
    return this.givenAddresses.has(addr) || this.members.hasAddress(addr);
  }

  private introducer(info: InboundInfo): Introducer {
    return { key: info.from, trusted: this.trustedAddress(info.from) };
  }

  /** Up to k random live members other than this node and `exclude` (O(k), see indexed-set.ts). */
  randomPeers(k: number, exclude?: string): MemberRecord[] {
    const self = this.members.self;
    return sampleFrom(this.env.random, [this.members.live], k, (r) => r !== self && r.name !== exclude);
  }

  /** Anything waiting in either dissemination queue. */
  private get queued(): number {
    return this.queue.size + this.messenger.queue.size;
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
    this.seeds = seeds;
    for (const s of seeds) this.givenAddresses.add(s);
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
      this.gossip();
      this.timer(gossipLoop, this.cfg.gossipInterval);
    };
    this.timer(gossipLoop, r.next() * this.cfg.gossipInterval);
    if (this.cfg.pushPullInterval > 0) {
      // Like memberlist: a random stagger, then a full (N-scaled) interval before the first one.
      const ppLoop = (): void => {
        this.periodicPushPull();
        this.timer(ppLoop, pushPullScale(this.cfg.pushPullInterval, this.members.liveCount()));
      };
      this.timer(() => this.timer(ppLoop, pushPullScale(this.cfg.pushPullInterval, this.members.liveCount())), r.next() * this.cfg.pushPullInterval);
    }
    if (this.cfg.reconnectInterval > 0) {
      const reconnectLoop = (): void => {
        this.heal();
        this.timer(reconnectLoop, this.cfg.reconnectInterval);
      };
      this.timer(reconnectLoop, this.cfg.reconnectInterval * (0.5 + r.next()));
    }
  }

  private onEvent(ev: MemberEvent): void {
    const r = this.members.get(ev.member.name);
    this.messenger.memberChanged(ev.member.name, r !== undefined && (r.state === 'alive' || r.state === 'suspect'));
    this.viewDigest.update(ev.member.name, this.members.get(ev.member.name));
    if (ev.type === 'dead' || ev.type === 'left') this.messenger.memberGone(ev.member.name);
    const others = this.members.liveCount() - 1;
    if (others > this.peakOthers) this.peakOthers = others;
    this.env.emit(ev);
  }

  // ---- dissemination --------------------------------------------------------------------------

  disseminate(name: string, msg: Alive | Suspect | Dead): void {
    this.viewDigest.update(name, this.members.get(name));
    this.queue.enqueue(name, this.outbox.encode(msg));
    this.scheduleEagerGossip();
  }

  /**
   * New updates go out within eagerGossipDelay instead of waiting for the next gossip tick, and
   * follow-up rounds spend the rest of their retransmit budget at a doubling spacing until it
   * reaches the regular tick. The number of transmissions is the same as tick-paced gossip; they
   * just happen in milliseconds rather than in several gossip intervals.
   */
  scheduleEagerGossip(): void {
    if (this.eagerPending || this.cfg.eagerGossipDelay <= 0 || !this.started || this.stopped) return;
    this.eagerPending = true;
    let spacing = this.cfg.eagerGossipDelay;
    const round = (): void => {
      this.gossip();
      spacing *= 2;
      if (this.queued > 0 && spacing < this.cfg.gossipInterval) {
        this.timer(round, spacing);
      } else {
        this.eagerPending = false;
      }
    };
    this.timer(round, spacing);
  }

  /**
   * gossipNodes random members gossip goes to: live ones, and recently dead ones so a falsely dead
   * node hears and refutes. Sampled from the live and dead sets, not found by a walk of the table.
   */
  private gossipTargets(): MemberRecord[] {
    const now = this.env.clock.now();
    const self = this.members.self;
    return sampleFrom(this.env.random, [this.members.live, this.members.dead], this.cfg.gossipNodes, (r) =>
      r !== self && (r.state !== 'dead' || now - r.stateChangedAt < this.cfg.gossipToTheDead));
  }

  gossip(): void {
    if (this.queued === 0) return;
    const targets = this.gossipTargets();
    for (const t of targets) {
      if (!this.outbox.gossip(t.address)) break;
    }
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
      let value: unknown;
      try {
        value = this.env.codec.decode(part);
      } catch {
        m.increment('grapevine.drop.decode');
        continue;
      }
      if (Array.isArray(value) && value[0] === 9) {
        this.safely(() => this.messenger.receive(value as unknown[], info, part));
        continue;
      }
      const msg = parseMessage(value, this.cfg.limits);
      if (!msg) {
        const known = Array.isArray(value) && typeof value[0] === 'number' && value[0] >= 1 && value[0] <= 8;
        m.increment(known ? 'grapevine.drop.invalid' : 'grapevine.drop.unknown-type');
        continue;
      }
      if (msg.k === 5 && msg.addr !== info.from && !this.trustedAddress(info.from)) {
        // News of others from a source we do not know yet: the sender's own alive may come later
        // in this envelope and make it known, so this waits for the end of the envelope.
        (deferred ??= []).push(msg);
        continue;
      }
      this.safely(() => this.dispatch(msg, info));
    }
    if (deferred) for (const msg of deferred) this.safely(() => this.dispatch(msg, info));
    // Digests are compared once the packet's piggybacked updates are applied (view-sync.ts).
    this.safely(() => this.viewSync.settle());
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.env.metrics.increment('grapevine.internal-error');
      this.env.logger.error({ err }, 'error handling a message');
    }
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
    }
  }

  // ---- join, anti-entropy, healing ---------------------------------------------------------

  /**
   * Push-pull with every seed at once; resolves with how many answered. With none, retries with
   * exponential backoff up to joinRetries times, then rejects with ERR_JOIN_FAILED.
   */
  async join(seeds: string[]): Promise<number> {
    const self = this.members.self.address;
    const targets = [...new Set(seeds)].filter((s) => s !== self);
    if (targets.length === 0) return 0;
    for (const t of targets) this.givenAddresses.add(t);
    let backoff = this.cfg.joinBackoff;
    let lastErrors: unknown[] = [];
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new GrapevineError('ERR_CLOSED', 'node stopped');
      const results = await Promise.allSettled(targets.map((s) => this.pushPull.exchange(s, true)));
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      if (ok > 0) {
        this.scheduleJoinSync();
        return ok;
      }
      lastErrors = results.map((r) => (r.status === 'rejected' ? r.reason : undefined));
      // Every seed answered no (versions, path, token, name): retrying cannot help.
      if (allFinal(lastErrors) || attempt >= this.cfg.joinRetries) break;
      await new Promise<void>((resolve) => this.timer(resolve, backoff));
      backoff = Math.min(backoff * 2, this.cfg.joinBackoffMax);
    }
    throw joinError(targets, lastErrors, { label: this.env.label, encrypted: this.env.encryption !== undefined });
  }

  /**
   * Gossip can spend an update's retransmit budget without reaching every node (about e^-8 per
   * pair at N=50: in a concurrent join of 50 that is roughly one missed pair per formation). One
   * extra push-pull with a random member, one to two gossip intervals after joining, repairs that
   * in a few hundred milliseconds instead of at the first periodic push-pull.
   */
  private scheduleJoinSync(): void {
    this.timer(() => this.periodicPushPull(), this.cfg.gossipInterval * (1 + this.env.random.next()));
  }

  /** Replace the seeds healing re-contacts (a discovery provider found new addresses). */
  setSeeds(seeds: string[]): void {
    this.seeds = [...new Set(seeds)];
    this.givenAddresses.clear();
    for (const s of this.seeds) this.givenAddresses.add(s);
  }

  get currentSeeds(): readonly string[] {
    return this.seeds;
  }

  private randomLive(): MemberRecord | undefined {
    const self = this.members.self;
    return sampleFrom(this.env.random, [this.members.live], 1, (r) => r.state === 'alive' && r !== self)[0];
  }

  /**
   * Safety net for the incremental digest: recompute it where O(N) work is being done anyway (a
   * push-pull sends the whole table). A drift means a record changed without passing
   * disseminate() or onEvent(); it is counted and corrected.
   */
  private checkViewDigest(): void {
    if (this.viewDigest.rebuild(this.members.records.values())) this.env.metrics.increment('grapevine.view-digest.drift');
  }

  private periodicPushPull(): void {
    this.checkViewDigest();
    const peer = this.randomLive();
    if (peer) this.pushPull.exchange(peer.address, false).catch(() => this.env.metrics.increment('grapevine.pushpull.failed'));
  }

  /**
   * Healing: when we are alone, have lost members, or hold tombstones, reach out to a seed and to
   * one recently dead member. If the "dead" were only partitioned away, the exchange makes each
   * side refute the other's verdict and the views merge.
   */
  heal(): void {
    const others = this.members.liveCount() - 1;
    const dead = this.members.dead;
    const lost = others === 0 || others < this.peakOthers;
    if (this.seeds.length > 0 && (lost || dead.size > 0)) {
      const seed = this.seeds[randomInt(this.env.random, this.seeds.length)]!;
      if (seed !== this.members.self.address) this.pushPull.exchange(seed, false).catch(() => this.env.metrics.increment('grapevine.heal.seed-failed'));
    }
    if (dead.size > 0) {
      const d = dead.at(randomInt(this.env.random, dead.size));
      this.pushPull.exchange(d.address, false).catch(() => this.env.metrics.increment('grapevine.heal.dead-failed'));
    }
    if (!lost) this.peakOthers = others;
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
