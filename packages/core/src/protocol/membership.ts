/**
 * The membership table and SWIM's merge rules: who is alive, suspect, dead or left, at which
 * incarnation, and what a node does on hearing alive/suspect/dead news about a member or itself.
 *
 * Precedence for one member: higher incarnation wins; at equal incarnation dead/left beats suspect
 * beats alive. Only a node raises its own incarnation (to refute, or to announce new metadata).
 * A larger instance id under the same name is a restarted process: it replaces the old record
 * whatever the incarnations, so the old self is retired at once.
 */
import type { Clock } from '../clock.js';
import type { ProtocolConfig } from '../config.js';
import type { Member, MemberCounts, MemberEvent, MemberState, Meta } from '../member.js';
import type { Alive, Dead, Suspect } from './messages.js';
import { refutingIncarnation } from './incarnation.js';
import type { Introducer } from './introductions.js';
import { Suspicion, minSuspicionTimeout } from './suspicion.js';
import { IndexedSet } from './indexed-set.js';
import { FifoDeadlines } from './fifo-deadlines.js';
import { NO_POOL, type Pool } from './string-pool.js';

export interface MemberRecord {
  name: string;
  address: string;
  state: MemberState;
  incarnation: number;
  instance: number;
  meta: Meta;
  metaVersion: number;
  stateChangedAt: number;
  /** Wire protocol version the member speaks. */
  protocol: number;
  /** The member's application version ('' when it set none). */
  appVersion: string;
  suspicion?: Suspicion | undefined;
  /** Position in the state set that holds it (live, dead or left; see indexed-set.ts); -1 in none. */
  slot: number;
}

/** What the table asks of the node that owns it. */
export interface MembershipHooks {
  /** Queue news about `name` for dissemination. */
  disseminate(name: string, msg: Alive | Suspect | Dead): void;
  emit(event: MemberEvent): void;
  /** We were suspected or declared dead: Lifeguard counts it against our own health. */
  selfAccused(): void;
  /** A member was added (for the probe order). */
  added(name: string): void;
  /** A member record was replaced by a restarted process, or was removed. */
  log(level: 'debug' | 'info' | 'warn', obj: object, msg: string): void;
  count(metric: string): void;
  /** False for a member whose versions this node refuses to run with (it is then ignored). */
  compatible(name: string, protocol: number, app: string): boolean;
  /** An instance id larger than `current`: this node reincarnates at the incarnation ceiling. */
  nextInstance?(current: number): number;
  /**
   * An alive message from an untrusted source would add a member or move one to a new address:
   * hand it to the introductions, which verify the address answers before it is applied.
   */
  introduce?(a: Alive, via: Introducer): void;
  /** A member was added or moved through a trusted path: any pending introduction of it is moot. */
  settled?(name: string): void;
}

export class Membership {
  readonly records = new Map<string, MemberRecord>();
  readonly self: MemberRecord;
  /** Set while leaving: news of our own leave is expected, not refuted. */
  leaving = false;
  /** How many records (any state, self included) have each address: which addresses are members'. */
  private readonly addressCounts = new Map<string, number>();
  /**
   * The records by state, each indexable for O(1) random picks (self is in `live` while alive).
   * Every state change passes setState(), which moves the record between them, so counting
   * members or choosing targets never walks the table.
   */
  readonly live = new IndexedSet<MemberRecord>();
  readonly dead = new IndexedSet<MemberRecord>();
  readonly left = new IndexedSet<MemberRecord>();
  private suspects = 0;
  /** Dead and left records in the order they became so: the reaper takes them from the front. */
  private readonly tombstones = new FifoDeadlines<MemberRecord>();

  constructor(
    self: Omit<MemberRecord, 'stateChangedAt' | 'state' | 'slot'>,
    private readonly cfg: ProtocolConfig,
    private readonly clock: Clock,
    private readonly hooks: MembershipHooks,
    /** Where other members' names, addresses, versions and metadata are stored (string-pool.ts). */
    private readonly pool: Pool = NO_POOL,
  ) {
    this.self = { ...self, state: 'alive', stateChangedAt: clock.now(), slot: -1 };
    this.records.set(self.name, this.self);
    this.live.add(this.self);
    this.countAddress(this.self.address, 1);
  }

  /** Is `addr` the address of some record (any state)? */
  hasAddress(addr: string): boolean {
    return this.addressCounts.has(addr);
  }

  private countAddress(addr: string, delta: number): void {
    const n = (this.addressCounts.get(addr) ?? 0) + delta;
    if (n > 0) this.addressCounts.set(addr, n);
    else this.addressCounts.delete(addr);
  }

  private moveAddress(r: MemberRecord, addr: string): void {
    if (r.address === addr) return;
    this.countAddress(r.address, -1);
    this.pool.releaseString(r.address);
    r.address = this.pool.string(addr);
    this.countAddress(r.address, 1);
  }

  private setMeta(r: MemberRecord, meta: Meta): void {
    this.pool.releaseMeta(r.meta);
    r.meta = this.pool.meta(meta);
  }

  get(name: string): MemberRecord | undefined {
    return this.records.get(name);
  }

  /** Members that are alive or suspect, self included: N in every formula. */
  liveCount(): number {
    return this.live.size;
  }

  counts(): MemberCounts {
    return { alive: this.live.size - this.suspects, suspect: this.suspects, dead: this.dead.size, left: this.left.size };
  }

  private setOf(state: MemberState): IndexedSet<MemberRecord> {
    return state === 'dead' ? this.dead : state === 'left' ? this.left : this.live;
  }

  /** Put a record (new, or changing state) in the set for `state` and keep the counts. */
  private place(r: MemberRecord, prev: MemberState | undefined, state: MemberState): void {
    if (prev === 'suspect') this.suspects--;
    if (state === 'suspect') this.suspects++;
    const from = prev === undefined ? undefined : this.setOf(prev);
    const to = this.setOf(state);
    if (from !== to) {
      from?.delete(r);
      to.add(r);
    }
  }

  aliveMessage(r: MemberRecord = this.self): Alive {
    return { k: 5, name: r.name, addr: r.address, inc: r.incarnation, inst: r.instance, metaVer: r.metaVersion, meta: { ...r.meta }, proto: r.protocol, app: r.appVersion };
  }

  /** Raise our incarnation past `atLeast` and announce it. */
  refute(atLeast: number): void {
    this.raiseSelf(atLeast);
    this.hooks.count('refutations');
    this.hooks.disseminate(this.self.name, this.aliveMessage());
  }

  /**
   * Our next incarnation above `atLeast`; at the ceiling, a new instance at incarnation 0 instead
   * (see incarnation.ts), which outranks any claim about the old instance.
   */
  private raiseSelf(atLeast: number): void {
    const next = refutingIncarnation(this.self.incarnation, atLeast, this.cfg.limits.maxIncarnation);
    if (next !== null) {
      this.self.incarnation = next;
      return;
    }
    const old = this.self.instance;
    this.self.instance = this.hooks.nextInstance?.(old) ?? old + 1;
    this.self.incarnation = 0;
    this.hooks.count('reincarnations');
    this.hooks.log('warn', { oldInstance: old, instance: this.self.instance, ceiling: this.cfg.limits.maxIncarnation }, 'incarnation ceiling reached; reincarnating with a new instance id');
  }

  /** Claims past the incarnation ceiling are refused: no message may put a member where it cannot refute. */
  private overCeiling(inc: number): boolean {
    if (inc <= this.cfg.limits.maxIncarnation) return false;
    this.hooks.count('drop.incarnation');
    return true;
  }

  private setState(r: MemberRecord, state: MemberState): MemberState {
    const prev = r.state;
    r.state = state;
    r.stateChangedAt = this.clock.now();
    this.place(r, prev, state);
    if ((state === 'dead' || state === 'left') && r !== this.self) this.tombstones.push(r, r.stateChangedAt);
    if (state !== 'suspect' && r.suspicion) {
      r.suspicion.cancel();
      r.suspicion = undefined;
    }
    return prev;
  }

  private event(type: MemberEvent['type'], r: MemberRecord, previous?: MemberState): void {
    const ev: MemberEvent = previous === undefined
      ? { type, member: snapshot(r), at: this.clock.now() }
      : { type, member: snapshot(r), previous, at: this.clock.now() };
    this.hooks.emit(ev);
  }

  /**
   * `via` says where the news came from; without it the news is trusted (a push-pull reply to our
   * own request, or an introduction whose address answered). From an untrusted source, news that
   * would add a member or move one to another address goes to the introductions first.
   */
  onAlive(a: Alive, via?: Introducer): void {
    if (this.overCeiling(a.inc)) return;
    if (a.name === this.self.name) return this.aliveAboutSelf(a);
    const r = this.records.get(a.name);
    const proto = a.proto ?? 1;
    const app = a.app ?? '';
    if ((!r || a.inst > r.instance) && !this.hooks.compatible(a.name, proto, app)) return;
    // A member announcing itself from its own address, the first at that address, is a packet
    // from it: direct evidence. (A forger who can fake source addresses gets one member per
    // address this way, which then fails its probes like a crashed node.)
    const fromItself = via !== undefined && !r && via.key === a.addr && !this.addressCounts.has(a.addr);
    if (via && !via.trusted && !fromItself && this.hooks.introduce && (!r || (r.address !== a.addr && a.inst >= r.instance && (a.inst > r.instance || a.inc >= r.incarnation)))) {
      this.hooks.introduce(a, via);
      return;
    }
    this.hooks.settled?.(a.name);
    if (!r) {
      if (this.records.size >= this.cfg.limits.maxMembers) {
        this.hooks.count('drop.max-members');
        return;
      }
      const rec: MemberRecord = {
        name: this.pool.string(a.name), address: this.pool.string(a.addr), state: 'alive', incarnation: a.inc, instance: a.inst,
        meta: this.pool.meta(a.meta), metaVersion: a.metaVer, stateChangedAt: this.clock.now(),
        protocol: proto, appVersion: this.pool.string(app), slot: -1,
      };
      this.records.set(rec.name, rec);
      this.place(rec, undefined, 'alive');
      this.countAddress(rec.address, 1);
      this.hooks.added(a.name);
      this.hooks.disseminate(a.name, a);
      this.event('alive', rec);
      return;
    }
    if (a.inst !== r.instance) {
      if (a.inst < r.instance) return; // news about a retired process
      // A restarted process: replace the record wholesale.
      const prev = this.setState(r, 'alive');
      this.moveAddress(r, a.addr);
      r.incarnation = a.inc;
      r.instance = a.inst;
      this.setMeta(r, a.meta);
      r.metaVersion = a.metaVer;
      r.protocol = proto;
      if (r.appVersion !== app) {
        this.pool.releaseString(r.appVersion);
        r.appVersion = this.pool.string(app);
      }
      this.hooks.log('info', { member: a.name, instance: a.inst }, 'member restarted; old instance retired');
      this.hooks.disseminate(a.name, a);
      this.event('alive', r, prev);
      return;
    }
    if (a.inc < r.incarnation) return;
    if (a.inc === r.incarnation) {
      // Equal incarnation: alive never overrides suspect/dead/left; it may carry newer metadata.
      if (r.state !== 'alive' || a.metaVer <= r.metaVersion) return;
      this.setMeta(r, a.meta);
      r.metaVersion = a.metaVer;
      this.moveAddress(r, a.addr);
      this.hooks.disseminate(a.name, a);
      this.event('updated', r);
      return;
    }
    const metaChanged = a.metaVer > r.metaVersion;
    r.incarnation = a.inc;
    this.moveAddress(r, a.addr);
    if (metaChanged) {
      this.setMeta(r, a.meta);
      r.metaVersion = a.metaVer;
    }
    this.hooks.disseminate(a.name, a);
    if (r.state !== 'alive') {
      const prev = this.setState(r, 'alive');
      this.event('alive', r, prev);
    } else if (metaChanged) {
      this.event('updated', r);
    }
  }

  private aliveAboutSelf(a: Alive): void {
    const self = this.self;
    if (a.inst !== self.instance) {
      if (a.inst > self.instance) {
        // A newer process runs under our name: it wins; we step aside rather than fight it.
        this.hooks.log('warn', { name: a.name, theirs: a.inst, ours: self.instance }, 'a newer process claims this node name');
        this.hooks.count('name-conflicts');
        return;
      }
      // Our previous process is still being talked about: retire it by outranking it. Our larger
      // instance already outranks it; the raise only freshens our alive, so it is skipped where it
      // would pass the ceiling (that would reincarnate again for every old copy still in flight).
      if (a.inc >= self.incarnation) {
        if (refutingIncarnation(self.incarnation, a.inc, this.cfg.limits.maxIncarnation) !== null) this.refute(a.inc);
        else this.hooks.disseminate(self.name, this.aliveMessage());
      }
      return;
    }
    if (a.inc > self.incarnation || (a.inc === self.incarnation && a.metaVer !== self.metaVersion)) {
      this.refute(a.inc);
    }
  }

  onSuspect(s: Suspect): void {
    if (this.overCeiling(s.inc)) return;
    const r = this.records.get(s.name);
    // News about another process under this name (an older or newer instance) is not about this record.
    if (!r || s.inst !== r.instance || !outranks(s.inc, 'suspect', r)) {
      // Lifeguard: an independent confirmation of the current suspicion shortens its timeout;
      // re-gossip it so others count it too.
      if (r && r.state === 'suspect' && s.inst === r.instance && s.inc === r.incarnation && r !== this.self) {
        if (r.suspicion?.confirm(s.from)) this.hooks.disseminate(s.name, s);
      }
      return;
    }
    if (r === this.self) {
      if (this.leaving) return;
      this.hooks.selfAccused();
      this.refute(s.inc);
      return;
    }
    r.incarnation = s.inc;
    const prev = this.setState(r, 'suspect');
    const n = this.liveCount();
    const k = n - 2 < this.cfg.suspicionMult - 2 ? 0 : this.cfg.suspicionMult - 2;
    const min = minSuspicionTimeout(this.cfg.suspicionMult, n, this.cfg.probeInterval);
    const max = min * this.cfg.suspicionMaxTimeoutMult;
    const inc = s.inc;
    r.suspicion?.cancel(); // a suspicion at an older incarnation
    r.suspicion = new Suspicion(s.from, k, min, max, this.clock, () => {
      if (r.state !== 'suspect' || r.incarnation !== inc) return;
      this.hooks.count('suspicion-timeouts');
      this.onDead({ k: 7, name: r.name, inc, from: this.self.name, inst: r.instance });
    });
    this.hooks.disseminate(s.name, s);
    if (prev !== 'suspect') this.event('suspect', r, prev);
  }

  onDead(d: Dead): void {
    if (this.overCeiling(d.inc)) return;
    const r = this.records.get(d.name);
    const state = d.from === d.name ? 'left' : 'dead';
    if (!r || d.inst !== r.instance || !outranks(d.inc, state, r)) return;
    if (r === this.self) {
      if (this.leaving) return;
      this.hooks.selfAccused();
      this.refute(d.inc);
      return;
    }
    r.incarnation = d.inc;
    const prev = this.setState(r, state);
    this.hooks.disseminate(d.name, d);
    this.event(r.state, r, prev);
  }

  /** Set our own metadata; the caller has validated sizes. */
  updateSelfMeta(meta: Record<string, string>, version: number): void {
    this.self.meta = Object.freeze({ ...meta });
    this.self.metaVersion = version;
    this.raiseSelf(this.self.incarnation);
    this.hooks.disseminate(this.self.name, this.aliveMessage());
    this.event('updated', this.self);
  }

  /** We are leaving: our own record moves to left (its stateChangedAt stays; it is never reaped). */
  selfLeft(): void {
    const prev = this.self.state;
    this.self.state = 'left';
    this.place(this.self, prev, 'left');
  }

  /**
   * Forget tombstones older than the retention period; returns the names removed. Walks only the
   * tombstones that are due (oldest first), not the table; an entry whose record has changed
   * since it was queued (revived, reaped, or died again later) is skipped.
   */
  reap(now: number, retention: number): string[] {
    const gone: string[] = [];
    this.tombstones.takeUntil(now - retention, (r, at) => {
      if (this.records.get(r.name) !== r || (r.state !== 'dead' && r.state !== 'left') || r.stateChangedAt !== at) return;
      this.countAddress(r.address, -1);
      this.records.delete(r.name);
      this.setOf(r.state).delete(r);
      this.pool.releaseString(r.address);
      this.pool.releaseString(r.name);
      this.pool.releaseString(r.appVersion);
      this.pool.releaseMeta(r.meta);
      gone.push(r.name);
    });
    return gone;
  }

  stopAll(): void {
    for (const r of this.records.values()) {
      r.suspicion?.cancel();
      r.suspicion = undefined;
    }
  }
}

const RANK: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 };

/**
 * Does news (incarnation, state) supersede what the record holds? Higher incarnation wins; at
 * equal incarnation alive < suspect < dead < left. Applying only superseding news makes the merge
 * a join on that order, so every node ends in the same state whatever order news arrives in.
 */
function outranks(inc: number, state: MemberState, r: MemberRecord): boolean {
  return inc > r.incarnation || (inc === r.incarnation && RANK[state] > RANK[r.state]);
}

export function snapshot(r: MemberRecord): Member {
  return {
    name: r.name, address: r.address, state: r.state, incarnation: r.incarnation, instance: r.instance,
    meta: r.meta, metaVersion: r.metaVersion, stateChangedAt: r.stateChangedAt,
    protocolVersion: r.protocol, appVersion: r.appVersion,
  };
}
