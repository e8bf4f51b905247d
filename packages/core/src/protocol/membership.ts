/**
 * The membership table and SWIM's merge rules: who is alive, suspect, dead or left, at which
 * incarnation, and what a node does on hearing alive/suspect/dead news about a member or itself.
 *
 * Precedence for one member: higher incarnation wins; at equal incarnation dead/left beats suspect
 * beats alive. Only a node raises its own incarnation (to refute, or to announce new metadata).
 * A larger instance id under the same name is a restarted process: it replaces the old record
 * whatever the incarnations, so the old self is retired at once.
 *
 * The records live in a compact table of rows (member-table.ts, ~70 bytes a member with a shared
 * pool, the view digest's value included, instead of ~230 as objects: a simulation holds N² of them); records as objects are made when code outside
 * asks for them (member-views.ts). A suspicion timer exists only for a member that is suspect.
 */
import type { Clock } from '../clock.js';
import type { ProtocolConfig } from '../config.js';
import { STATE_CODE, STATE_FROM_CODE, type Member, type MemberCounts, type MemberEvent, type MemberState, type Meta } from '../member.js';
import type { Alive, Dead, NodeState, Suspect } from './messages.js';
import { sampleFrom } from './indexed-set.js';
import type { Random } from '../random.js';
import { refutingIncarnation } from './incarnation.js';
import type { Introducer } from './introductions.js';
import { Suspicion, minSuspicionTimeout } from './suspicion.js';
import { FifoDeadlines } from './fifo-deadlines.js';
import { EMPTY_META, NO_POOL, type Pool } from './string-pool.js';
import { ALIVE, DEAD, LEFT, MemberTable, SUSPECT, type RowList, type RowSet } from './member-table.js';
import { TableContributions } from './member-contributions.js';
import { RecordMap, RecordSet, RowCursor, rowMember, rowRecord, snapshot, type HeldFields, type MemberRecord, type SelfRecord } from './member-views.js';

export { snapshot, type MemberRecord, type SelfRecord } from './member-views.js';

/** A member's fields the view digest reads. */
export type DigestView = Pick<MemberRecord, 'name' | 'state' | 'instance' | 'incarnation'>;

/** The node's own row: inserted first, never removed, and compaction keeps row order. */
const SELF = 0;
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
  private readonly t: MemberTable;
  private readonly cursor: RowCursor;
  /** Every member (self included) by name, in the order first seen. */
  readonly records: RecordMap;
  readonly self: SelfRecord;
  /** Set while leaving: news of our own leave is expected, not refuted. */
  leaving = false;
  /**
   * The rows by state, each indexable for O(1) random picks (self is in `live` while alive).
   * Every state change passes setState(), which moves the row between them, so counting
   * members or choosing targets never walks the table.
   */
  private readonly liveRows: RowSet;
  private readonly deadRows: RowSet;
  private readonly leftRows: RowSet;
  /** The same sets as records (member-views.ts), for sampling and iteration outside. */
  readonly live: RecordSet;
  readonly dead: RecordSet;
  readonly left: RecordSet;
  /** The view digest's per-member contributions, kept in the table's columns (member-contributions.ts). */
  readonly digestStore: TableContributions;
  private suspects = 0;
  /** Running suspicions by member name: only suspect members have one. */
  private readonly suspicions = new Map<string, Suspicion>();
  /** Names of dead and left members in the order they became so: the reaper takes them from the front. */
  private readonly tombstones = new FifoDeadlines<string>();

  constructor(
    self: Omit<MemberRecord, 'stateChangedAt' | 'state' | 'suspicion'>,
    private readonly cfg: ProtocolConfig,
    private readonly clock: Clock,
    private readonly hooks: MembershipHooks,
    /** Where other members' names, addresses, versions and metadata are stored (string-pool.ts). */
    private readonly pool: Pool = NO_POOL,
  ) {
    this.self = { ...self, state: 'alive', stateChangedAt: clock.now() };
    // The index hash is seeded from the instance id's low bits (12 of them random, see member.ts).
    this.t = new MemberTable(self.instance % 0x1_0000_0000);
    this.cursor = new RowCursor(this.t);
    this.digestStore = new TableContributions(this.t);
    this.liveRows = this.t.newSet();
    this.deadRows = this.t.newSet();
    this.leftRows = this.t.newSet();
    const rec = (row: number): MemberRecord => this.record(row);
    this.records = new RecordMap(this.t, rec);
    this.live = new RecordSet(this.liveRows, this.t, rec);
    this.dead = new RecordSet(this.deadRows, this.t, rec);
    this.left = new RecordSet(this.leftRows, this.t, rec);
    // Row 0 holds self's name, address and state for the indexes and sets; `self` holds the rest.
    const s = this.self;
    this.t.insert({
      id: NO_POOL.identity(s.name, s.address, EMPTY_META, '', s.protocol), state: ALIVE, incarnation: s.incarnation, instance: s.instance,
      metaVersion: s.metaVersion, stateChangedAt: s.stateChangedAt,
    });
    this.liveRows.add(SELF);
  }

  /** The row of `name` (-1: none); rows are read with the calls below and not kept across a reap. */
  rowOf(name: string): number {
    return this.t.find(name);
  }

  /** Is `row` a member other than this node, alive or suspect (false for a removed row or -1)? */
  probeableRow(row: number): boolean {
    const t = this.t;
    return row > SELF && row < t.rows && (t.state[row] === ALIVE || t.state[row] === SUSPECT);
  }

  /** The record of a valid row. */
  recordAt(row: number): MemberRecord {
    return this.record(row);
  }

  /** The i-th row of the live set (0 ≤ i < liveCount(), in the set's order, which live.values() follows). */
  liveRowAt(i: number): number {
    return this.liveRows.at(i);
  }

  /** A list of rows the table renumbers when it compacts (the prober's order). */
  newRowList(): RowList {
    return this.t.newList();
  }

  /** Is `addr` the address of some record (any state)? */
  hasAddress(addr: string): boolean {
    return this.t.hasAddress(addr);
  }

  /**
   * Is `addr` the address of a member other than this node that is alive or suspect? Read from the
   * table's address index (O(1) expected), so no caller keeps its own set of live addresses.
   */
  hasLiveAddress(addr: string): boolean {
    return this.t.liveAt(addr);
  }

  /** The record of a row: self's own object, or a copy of the row. */
  private record(row: number): MemberRecord {
    return row === SELF ? this.self : rowRecord(this.t, row, this.suspicions.get(this.t.name(row)));
  }

  private moveAddress(row: number, addr: string): void {
    const id = this.t.ids[row]!;
    if (id.addr === addr) return;
    const p = id.profile;
    this.reidentify(row, addr, p.meta, p.app, p.proto);
  }

  /**
   * Give a row a new address and profile (metadata, application version, protocol): a new
   * identity (string-pool.ts) under the same name, the old one released.
   */
  private reidentify(row: number, addr: string, meta: Meta, app: string, proto: number): void {
    const old = this.t.ids[row]!;
    const next = this.pool.identity(old.name, addr, meta, app, proto);
    if (next === old) {
      this.pool.releaseIdentity(next); // the pool handed back the same one, counted again
      return;
    }
    this.t.setIdentity(row, next);
    this.pool.releaseIdentity(old);
  }

  get(name: string): MemberRecord | undefined {
    return this.records.get(name);
  }

  /** Another member's row read in place (no record built), for held-news.ts; moved by the next call. */
  peek(name: string): HeldFields | undefined {
    const row = name === this.self.name ? -1 : this.t.find(name);
    if (row < 0) return undefined;
    this.cursor.row = row;
    return this.cursor;
  }

  /**
   * What the view digest reads of `name` (self's record, or the row read in place; moved by the
   * next call): the digest follows every change, and a record built for it was an object per fact.
   */
  digestView(name: string): DigestView | undefined {
    if (name === this.self.name) return this.self;
    const row = this.t.find(name);
    if (row < 0) return undefined;
    this.cursor.row = row;
    return this.cursor;
  }

  /**
   * A member's state as push-pull and reconciliation lists carry it, read from its row: a mass
   * join sends millions of these, and a record built first (then copied into the state, its
   * metadata copied again) was three objects per state sent. The metadata is the row's own
   * (frozen) object, shared, not copied.
   */
  stateAt(row: number): NodeState {
    if (row === SELF) {
      const s = this.self;
      return { name: s.name, addr: s.address, inc: s.incarnation, inst: s.instance, state: s.state, metaVer: s.metaVersion, meta: s.meta, proto: s.protocol, app: s.appVersion };
    }
    const t = this.t;
    const id = t.ids[row]!;
    const p = id.profile;
    return { name: id.name, addr: id.addr, inc: t.inc[row]!, inst: t.inst[row]!, state: STATE_FROM_CODE[t.state[row]!]!, metaVer: t.metaVer[row]!, meta: p.meta, proto: p.proto, app: p.app };
  }

  /** This node's own state (stateAt). */
  selfState(): NodeState {
    return this.stateAt(SELF);
  }

  /** The state of `name` (stateAt), or undefined when it is not held. */
  stateOf(name: string): NodeState | undefined {
    const row = this.t.find(name);
    return row < 0 ? undefined : this.stateAt(row);
  }

  /** Every member's state, self first, in the table's order. */
  allStates(): NodeState[] {
    const out: NodeState[] = [];
    for (const row of this.t.rowsInOrder()) out.push(this.stateAt(row));
    return out;
  }

  /** The states of up to k members other than this node, chosen at random from every state set. */
  sampleStates(random: Random, k: number): NodeState[] {
    const rows = sampleFrom(random, [this.liveRows, this.deadRows, this.leftRows], k, (row) => row !== SELF);
    const out: NodeState[] = new Array<NodeState>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = this.stateAt(rows[i]!);
    return out;
  }

  /** Members that are alive or suspect, self included: N in every formula. */
  liveCount(): number {
    return this.liveRows.size;
  }

  counts(): MemberCounts {
    return { alive: this.liveRows.size - this.suspects, suspect: this.suspects, dead: this.deadRows.size, left: this.leftRows.size };
  }

  private setOf(state: number): RowSet {
    return state === DEAD ? this.deadRows : state === LEFT ? this.leftRows : this.liveRows;
  }

  /** Put a row (new, or changing state) in the set for `state` and keep the counts. */
  private place(row: number, prev: number | undefined, state: number): void {
    if (prev === SUSPECT) this.suspects--;
    if (state === SUSPECT) this.suspects++;
    const from = prev === undefined ? undefined : this.setOf(prev);
    const to = this.setOf(state);
    if (from !== to) {
      from?.delete(row);
      to.add(row);
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

  /** Change the state of another member's row (self's state changes only in selfLeft). */
  private setState(row: number, state: number): MemberState {
    const t = this.t;
    const prev = t.state[row]!;
    t.state[row] = state;
    t.changed[row] = this.clock.now();
    this.place(row, prev, state);
    const name = t.name(row);
    if (state === DEAD || state === LEFT) this.tombstones.push(name, t.changed[row]!);
    if (state !== SUSPECT) {
      const s = this.suspicions.get(name);
      if (s) {
        s.cancel();
        this.suspicions.delete(name);
      }
    }
    return STATE_FROM_CODE[prev]!;
  }

  /** The public view of a row at this moment (events carry it; it is never changed after). */
  private member(row: number): Member {
    return row === SELF ? snapshot(this.self) : rowMember(this.t, row);
  }

  private event(type: MemberEvent['type'], row: number, previous?: MemberState): void {
    const ev: MemberEvent = previous === undefined
      ? { type, member: this.member(row), at: this.clock.now() }
      : { type, member: this.member(row), previous, at: this.clock.now() };
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
    const t = this.t;
    const row = t.find(a.name);
    const proto = a.proto ?? 1;
    const app = a.app ?? '';
    if ((row < 0 || a.inst > t.inst[row]!) && !this.hooks.compatible(a.name, proto, app)) return;
    // A member announcing itself from its own address, the first at that address, is a packet
    // from it: direct evidence. (A forger who can fake source addresses gets one member per
    // address this way, which then fails its probes like a crashed node.)
    const fromItself = via !== undefined && row < 0 && via.key === a.addr && !t.hasAddress(a.addr);
    if (via && !via.trusted && !fromItself && this.hooks.introduce && (row < 0 || (t.addr(row) !== a.addr && a.inst >= t.inst[row]! && (a.inst > t.inst[row]! || a.inc >= t.inc[row]!)))) {
      this.hooks.introduce(a, via);
      return;
    }
    this.hooks.settled?.(a.name);
    if (row < 0) {
      if (t.size >= this.cfg.limits.maxMembers) {
        this.hooks.count('drop.max-members');
        return;
      }
      const added = t.insert({
        id: this.pool.identity(a.name, a.addr, a.meta, app, proto), state: ALIVE, incarnation: a.inc, instance: a.inst,
        metaVersion: a.metaVer, stateChangedAt: this.clock.now(),
      });
      this.place(added, undefined, ALIVE);
      // The table's (pooled) name, not the decoder's copy: the probe order and the queues keep
      // the name they are given, one per member per node (docs/scale.md#memory).
      this.hooks.added(t.name(added));
      this.hooks.disseminate(t.name(added), a);
      this.event('alive', added);
      return;
    }
    if (a.inst !== t.inst[row]) {
      if (a.inst < t.inst[row]!) return; // news about a retired process
      // A restarted process: replace the record wholesale.
      const prev = this.setState(row, ALIVE);
      this.reidentify(row, a.addr, a.meta, app, proto);
      t.setInc(row, a.inc);
      t.inst[row] = a.inst;
      t.metaVer[row] = a.metaVer;
      this.hooks.log('info', { member: a.name, instance: a.inst }, 'member restarted; old instance retired');
      this.hooks.disseminate(t.name(row), a);
      this.event('alive', row, prev);
      return;
    }
    if (a.inc < t.inc[row]!) return;
    if (a.inc === t.inc[row]) {
      // Equal incarnation: alive never overrides suspect/dead/left; it may carry newer metadata.
      if (t.state[row] !== ALIVE || a.metaVer <= t.metaVer[row]!) return;
      const p = t.profile(row);
      this.reidentify(row, a.addr, a.meta, p.app, p.proto);
      t.metaVer[row] = a.metaVer;
      this.hooks.disseminate(t.name(row), a);
      this.event('updated', row);
      return;
    }
    const metaChanged = a.metaVer > t.metaVer[row]!;
    t.setInc(row, a.inc);
    if (metaChanged) {
      const p = t.profile(row);
      this.reidentify(row, a.addr, a.meta, p.app, p.proto);
      t.metaVer[row] = a.metaVer;
    } else {
      this.moveAddress(row, a.addr);
    }
    this.hooks.disseminate(t.name(row), a);
    if (t.state[row] !== ALIVE) {
      const prev = this.setState(row, ALIVE);
      this.event('alive', row, prev);
    } else if (metaChanged) {
      this.event('updated', row);
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
    const t = this.t;
    const row = t.find(s.name);
    if (row < 0) return;
    if (row === SELF) {
      // News about another process under our name (an older or newer instance) is not about us.
      if (s.inst !== this.self.instance || !outranks(s.inc, SUSPECT, this.self.incarnation, STATE_CODE[this.self.state])) return;
      if (this.leaving) return;
      this.hooks.selfAccused();
      this.refute(s.inc);
      return;
    }
    if (s.inst !== t.inst[row] || !outranks(s.inc, SUSPECT, t.inc[row]!, t.state[row]!)) {
      // Lifeguard: an independent confirmation of the current suspicion shortens its timeout;
      // re-gossip it so others count it too.
      if (t.state[row] === SUSPECT && s.inst === t.inst[row] && s.inc === t.inc[row]) {
        if (this.suspicions.get(s.name)?.confirm(s.from)) this.hooks.disseminate(t.name(row), s);
      }
      return;
    }
    t.setInc(row, s.inc);
    const prev = this.setState(row, SUSPECT);
    const n = this.liveCount();
    const k = n - 2 < this.cfg.suspicionMult - 2 ? 0 : this.cfg.suspicionMult - 2;
    const min = minSuspicionTimeout(this.cfg.suspicionMult, n, this.cfg.probeInterval);
    const max = min * this.cfg.suspicionMaxTimeoutMult;
    const inc = s.inc;
    const name = t.name(row);
    this.suspicions.get(name)?.cancel(); // a suspicion at an older incarnation
    this.suspicions.set(name, new Suspicion(s.from, k, min, max, this.clock, () => {
      // The row may have moved (compaction) or gone since: look the member up again.
      const now = this.t.find(name);
      if (now < 0 || this.t.state[now] !== SUSPECT || this.t.inc[now] !== inc) return;
      this.hooks.count('suspicion-timeouts');
      this.onDead({ k: 7, name, inc, from: this.self.name, inst: this.t.inst[now]! });
    }));
    this.hooks.disseminate(name, s);
    if (prev !== 'suspect') this.event('suspect', row, prev);
  }

  onDead(d: Dead): void {
    if (this.overCeiling(d.inc)) return;
    const t = this.t;
    const row = t.find(d.name);
    const state = d.from === d.name ? LEFT : DEAD;
    if (row < 0) return;
    if (row === SELF) {
      if (d.inst !== this.self.instance || !outranks(d.inc, state, this.self.incarnation, STATE_CODE[this.self.state])) return;
      if (this.leaving) return;
      this.hooks.selfAccused();
      this.refute(d.inc);
      return;
    }
    if (d.inst !== t.inst[row] || !outranks(d.inc, state, t.inc[row]!, t.state[row]!)) return;
    t.setInc(row, d.inc);
    const prev = this.setState(row, state);
    this.hooks.disseminate(t.name(row), d);
    this.event(STATE_FROM_CODE[state]!, row, prev);
  }

  /** Set our own metadata; the caller has validated sizes. */
  updateSelfMeta(meta: Record<string, string>, version: number): void {
    this.self.meta = Object.freeze({ ...meta });
    this.self.metaVersion = version;
    this.raiseSelf(this.self.incarnation);
    this.hooks.disseminate(this.self.name, this.aliveMessage());
    this.event('updated', SELF);
  }

  /** We are leaving: our own record moves to left (its stateChangedAt stays; it is never reaped). */
  selfLeft(): void {
    const prev = STATE_CODE[this.self.state];
    this.self.state = 'left';
    this.t.state[SELF] = LEFT;
    this.place(SELF, prev, LEFT);
  }

  /**
   * Forget tombstones older than the retention period; returns the names removed. Walks only the
   * tombstones that are due (oldest first), not the table; an entry whose member has changed
   * since it was queued (revived, reaped, or died again later) is skipped.
   */
  reap(now: number, retention: number): string[] {
    const gone: string[] = [];
    const t = this.t;
    this.tombstones.takeUntil(now - retention, (name, at) => {
      const row = t.find(name);
      if (row <= SELF || (t.state[row] !== DEAD && t.state[row] !== LEFT) || t.changed[row] !== at) return;
      this.setOf(t.state[row]!).delete(row);
      const id = t.ids[row]!;
      t.remove(row);
      this.pool.releaseIdentity(id);
      gone.push(id.name);
    });
    return gone;
  }

  stopAll(): void {
    for (const s of this.suspicions.values()) s.cancel();
    this.suspicions.clear();
  }
}

/**
 * Does news (incarnation, state code) supersede what a member's row holds? Higher incarnation
 * wins; at equal incarnation alive < suspect < dead < left (the state codes' order). Applying only
 * superseding news makes the merge a join on that order, so every node ends in the same state
 * whatever order news arrives in.
 */
function outranks(inc: number, state: number, heldInc: number, heldState: number): boolean {
  return inc > heldInc || (inc === heldInc && state > heldState);
}
