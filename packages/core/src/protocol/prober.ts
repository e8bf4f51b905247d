/**
 * SWIM failure detection with Lifeguard: each protocol period probe one member (shuffled
 * round-robin). No ack within the probe timeout → ask k helpers to ping it (they nack if they also
 * hear nothing) and, in parallel, ping it over the reliable path (memberlist's TCP fallback, which
 * rides out UDP loss). Still nothing by the end of the period → suspect it. Missed nacks count
 * against our own health (we may be the slow one), which stretches our timing.
 */
import type { TimerHandle } from '../clock.js';
import { TimerGroup } from '../timer-group.js';
import type { ProtocolConfig } from '../config.js';
import { randomInt } from '../random.js';
import { sampleFrom } from './indexed-set.js';
import type { InboundInfo } from '../transport.js';
import type { Awareness } from './awareness.js';
import type { MemberRecord, Membership } from './membership.js';
import type { RowList } from './member-table.js';
import type { Ping, PingReq } from './messages.js';
import type { NodeEnv } from './node-env.js';
import type { Outbox } from './outbox.js';

interface PendingAck {
  onAck(info: InboundInfo): void;
  onNack(): void;
}

export class Prober {
  private readonly pending = new Map<number, PendingAck>();
  /**
   * This round's order, as member table rows (4 bytes a member, not a name reference each: every
   * node of a simulation holds one; docs/scale.md#memory). The table renumbers it when it compacts.
   */
  private readonly order: RowList;
  private index = 0;
  private seq = 0;
  private readonly timers: TimerGroup;

  constructor(
    private readonly env: NodeEnv,
    private readonly cfg: ProtocolConfig,
    private readonly members: Membership,
    private readonly awareness: Awareness,
    private readonly outbox: Outbox,
  ) {
    this.timers = new TimerGroup(env.clock);
    this.order = members.newRowList();
  }

  nextSeq(): number {
    // Skips a sequence number still pending (a verification ping's random one, see verify()).
    do this.seq = (this.seq + 1) % 0x7fffffff;
    while (this.pending.has(this.seq));
    return this.seq;
  }

  /**
   * A verification ping for a candidate introduction (see introductions.ts): one plain ping, no
   * piggybacked updates, no ping-req helpers, no TCP fallback, and no suspicion when it fails. Its
   * sequence number is random, so acks sprayed for guessed numbers cannot admit a forged member.
   */
  verify(name: string, addr: string, done: (answered: boolean) => void): void {
    let seq: number;
    do seq = 1 + randomInt(this.env.random, 0x7ffffffe);
    while (this.pending.has(seq));
    const expire = this.timer(() => {
      this.pending.delete(seq);
      done(false);
    }, this.awareness.scale(this.cfg.probeInterval));
    this.pending.set(seq, {
      onAck: () => {
        this.pending.delete(seq);
        this.cancel(expire);
        done(true);
      },
      onNack: () => {},
    });
    this.env.metrics.increment('grapevine.introductions.pings');
    const self = this.members.self;
    this.outbox.send(addr, { k: 1, seq, target: name, from: self.name, fromAddr: self.address }, false);
  }

  private timer(fn: () => void, ms: number): TimerHandle {
    return this.timers.set(fn, ms);
  }

  private cancel(h: TimerHandle | undefined): void {
    this.timers.cancel(h);
  }

  /**
   * A new member goes in at a random place in the rest of this round (it would otherwise wait for
   * the next round). Never before the cursor: that would shift an already-probed member under it.
   */
  added(name: string): void {
    // O(1), as memberlist does: append, then swap with a random place at or after the cursor. The
    // member that was there moves to the end, still in this round.
    const row = this.members.rowOf(name);
    if (row < 0) return;
    const order = this.order;
    const at = this.index + randomInt(this.env.random, order.length - this.index + 1);
    order.push(row);
    const last = order.length - 1;
    if (at !== last) {
      order.set(last, order.at(at));
      order.set(at, row);
    }
  }

  private nextTarget(): MemberRecord | undefined {
    const { members, order } = this;
    for (let tries = 0; tries <= order.length; tries++) {
      if (this.index >= order.length) {
        // A new round: O(live members) once per round, so O(1) per probe. The live set's rows
        // other than our own, then a Fisher–Yates shuffle drawing as random.ts's shuffle() does.
        const n = members.liveCount();
        order.reset(n);
        for (let i = 0; i < n; i++) {
          const row = members.liveRowAt(i);
          if (row !== 0) order.push(row);
        }
        for (let i = order.length - 1; i > 0; i--) {
          const j = randomInt(this.env.random, i + 1);
          const t = order.at(i);
          order.set(i, order.at(j));
          order.set(j, t);
        }
        this.index = 0;
        if (order.length === 0) return undefined;
      }
      const row = order.at(this.index++);
      if (members.probeableRow(row)) return members.recordAt(row);
    }
    return undefined;
  }

  /** One protocol period: probe the next member. */
  tick(): void {
    const target = this.nextTarget();
    if (target) this.probe(target);
  }

  probe(target: MemberRecord): void {
    const { cfg, env, members } = this;
    const self = members.self;
    const seq = this.nextSeq();
    const timeout = this.awareness.scale(cfg.probeTimeout);
    const period = this.awareness.scale(cfg.probeInterval);
    const inc = target.incarnation;
    const ping: Ping = { k: 1, seq, target: target.name, from: self.name, fromAddr: self.address };
    let nacks = 0;
    let expectedNacks = 0;
    let direct = true;
    let indirectTimer: TimerHandle | undefined;
    let deadline: TimerHandle | undefined;
    const sentAt = env.clock.now(); // for grapevine.probe.rtt (direct acks only)

    const finish = (): void => {
      this.pending.delete(seq);
      this.cancel(indirectTimer);
      this.cancel(deadline);
    };
    this.pending.set(seq, {
      onAck: (info) => {
        finish();
        if (direct) {
          this.awareness.applyDelta(-1);
          env.metrics.observe('grapevine.probe.rtt', env.clock.now() - sentAt);
        } else if (info.reliable) env.metrics.increment('grapevine.probe.tcp-rescue');
        else env.metrics.increment('grapevine.probe.indirect-rescue');
      },
      onNack: () => { nacks++; },
    });
    env.metrics.increment('grapevine.probe.sent');
    this.outbox.send(target.address, ping);

    indirectTimer = this.timer(() => {
      indirectTimer = undefined;
      direct = false;
      env.metrics.increment('grapevine.probe.failed-direct');
      const helpers = this.pickHelpers(target.name, cfg.indirectChecks);
      expectedNacks = helpers.length;
      const req: PingReq = { k: 2, seq, target: target.name, targetAddr: target.address, from: self.name, fromAddr: self.address, nack: true };
      for (const h of helpers) this.outbox.send(h.address, req);
      if (cfg.tcpFallbackPing) {
        this.outbox.sendReliable(target.address, ping).catch(() => env.metrics.increment('grapevine.probe.tcp-failed'));
      }
    }, timeout);

    deadline = this.timer(() => {
      deadline = undefined;
      finish();
      // Lifeguard: helpers that did not even nack suggest the problem is on our side.
      this.awareness.applyDelta(expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1);
      env.metrics.increment('grapevine.probe.failed');
      const r = members.get(target.name);
      if (!r || r.incarnation !== inc || (r.state !== 'alive' && r.state !== 'suspect')) return;
      env.metrics.increment('grapevine.suspicions-raised');
      members.onSuspect({ k: 6, name: r.name, inc: r.incarnation, from: self.name, inst: r.instance });
    }, period);
  }

  /** k random alive members other than us and the target, sampled in O(k) (indexed-set.ts). */
  private pickHelpers(exclude: string, k: number): MemberRecord[] {
    const self = this.members.self;
    return sampleFrom(this.env.random, [this.members.live], k, (r) => r.state === 'alive' && r !== self && r.name !== exclude);
  }

  onPing(p: Ping, info: InboundInfo): void {
    const self = this.members.self;
    if (p.target !== self.name) {
      this.env.metrics.increment('grapevine.drop.ping-wrong-target');
      return;
    }
    const ack = { k: 3 as const, seq: p.seq };
    // Answer on the path the ping came by: a reliable ping is the fallback for a lossy packet path.
    if (info.reliable) this.outbox.sendReliable(p.fromAddr, ack).catch(() => this.env.metrics.increment('grapevine.send.reliable-failed'));
    else this.outbox.send(p.fromAddr, ack);
  }

  onPingReq(req: PingReq): void {
    const self = this.members.self;
    const seq = this.nextSeq();
    let nackTimer: TimerHandle | undefined;
    const expire = this.timer(() => this.pending.delete(seq), this.cfg.probeInterval);
    this.pending.set(seq, {
      onAck: () => {
        this.pending.delete(seq);
        this.cancel(expire);
        this.cancel(nackTimer);
        this.outbox.send(req.fromAddr, { k: 3, seq: req.seq });
      },
      onNack: () => {},
    });
    this.outbox.send(req.targetAddr, { k: 1, seq, target: req.target, from: self.name, fromAddr: self.address });
    if (req.nack) {
      nackTimer = this.timer(() => {
        if (this.pending.has(seq)) this.outbox.send(req.fromAddr, { k: 4, seq: req.seq });
      }, this.cfg.probeTimeout);
    }
  }

  onAck(seq: number, info: InboundInfo): void {
    const p = this.pending.get(seq);
    if (p) p.onAck(info);
  }

  onNack(seq: number): void {
    this.pending.get(seq)?.onNack();
  }

  stop(): void {
    this.timers.stop();
    this.pending.clear();
  }
}
