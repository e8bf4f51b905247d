/**
 * What code outside the membership sees of the compact table (member-table.ts): records as plain
 * objects, made when asked for. `records` reads like a ReadonlyMap by name and the state sets like
 * indexed-set.ts's sets (size, at, values), so the prober, push-pull, gossip and the Cluster API
 * read members exactly as they did when the table held objects.
 *
 * A record other than the node's own is a copy of its row at the moment it was asked for: a
 * caller that needs the current state asks again (by name), which every caller already does
 * across a wait (the prober, for one, re-reads its target when the probe times out). The node's
 * own record is one live object, so `r === membership.self` still tells self apart.
 */
import { STATE_FROM_CODE, type Member, type MemberState, type Meta } from '../member.js';
import type { Suspicion } from './suspicion.js';
import type { MemberTable, RowSet } from './member-table.js';
import type { Pickable } from './indexed-set.js';

/**
 * One member as the table's readers see it. For a member other than the node itself it is a copy
 * made when asked for (see member-views.ts); the node's own record is `Membership.self`.
 */
export interface MemberRecord {
  readonly name: string;
  readonly address: string;
  readonly state: MemberState;
  readonly incarnation: number;
  readonly instance: number;
  readonly meta: Meta;
  readonly metaVersion: number;
  readonly stateChangedAt: number;
  /** Wire protocol version the member speaks. */
  readonly protocol: number;
  /** The member's application version ('' when it set none). */
  readonly appVersion: string;
  /** The running suspicion, while the member is suspect. */
  readonly suspicion?: Suspicion | undefined;
}

/** The node's own record: one object, changed in place (incarnation, instance, metadata, state). */
export type SelfRecord = { -readonly [K in keyof MemberRecord]: MemberRecord[K] };

/** Turns a row into a record (membership.ts owns the rule, and the node's own record). */
export type Materialise = (row: number) => MemberRecord;

/** Members of one state set (live, dead or left) as records, pickable by position in O(1). */
export class RecordSet implements Pickable<MemberRecord> {
  constructor(private readonly rows: RowSet, private readonly t: MemberTable, private readonly rec: Materialise) {}

  get size(): number {
    return this.rows.size;
  }

  at(i: number): MemberRecord {
    return this.rec(this.rows.at(i));
  }

  has(r: MemberRecord): boolean {
    const row = this.t.find(r.name);
    return row >= 0 && this.rows.has(row);
  }

  *values(): IterableIterator<MemberRecord> {
    for (let i = 0; i < this.rows.size; i++) yield this.rec(this.rows.at(i));
  }

  toArray(): MemberRecord[] {
    const out: MemberRecord[] = [];
    for (let i = 0; i < this.rows.size; i++) out.push(this.rec(this.rows.at(i)));
    return out;
  }
}

/** Every member by name, in the order first seen (as a Map iterates). */
export class RecordMap implements Iterable<[string, MemberRecord]> {
  constructor(private readonly t: MemberTable, private readonly rec: Materialise) {}

  get size(): number {
    return this.t.size;
  }

  get(name: string): MemberRecord | undefined {
    const row = this.t.find(name);
    return row < 0 ? undefined : this.rec(row);
  }

  has(name: string): boolean {
    return this.t.find(name) >= 0;
  }

  *keys(): IterableIterator<string> {
    for (const row of this.t.rowsInOrder()) yield this.t.name(row);
  }

  *values(): IterableIterator<MemberRecord> {
    for (const row of this.t.rowsInOrder()) yield this.rec(row);
  }

  *entries(): IterableIterator<[string, MemberRecord]> {
    for (const row of this.t.rowsInOrder()) yield [this.t.name(row), this.rec(row)];
  }

  [Symbol.iterator](): IterableIterator<[string, MemberRecord]> {
    return this.entries();
  }
}

/** The fields a held-copy check reads (held-news.ts); a MemberRecord has them all. */
export type HeldFields = Pick<MemberRecord, 'state' | 'address' | 'incarnation' | 'instance' | 'metaVersion' | 'meta' | 'protocol' | 'appVersion'>;

/**
 * One row read in place, for a check that reads a few fields and keeps nothing: the held-copy
 * reject runs on most packets of a mass join, where a record built per copy would be an object
 * allocated for every copy only to be compared and dropped. One cursor per table, moved by each
 * call; never keep it.
 */
export class RowCursor implements HeldFields {
  row = 0;
  constructor(private readonly t: MemberTable) {}
  get name(): string { return this.t.name(this.row); }
  get state(): MemberState { return STATE_FROM_CODE[this.t.state[this.row]!]!; }
  get address(): string { return this.t.addr(this.row); }
  get incarnation(): number { return this.t.inc[this.row]!; }
  get instance(): number { return this.t.inst[this.row]!; }
  get metaVersion(): number { return this.t.metaVer[this.row]!; }
  get meta(): Meta { return this.t.profile(this.row).meta; }
  get protocol(): number { return this.t.profile(this.row).proto; }
  get appVersion(): string { return this.t.profile(this.row).app; }
}

/** The public, immutable view of a record (what events and the Cluster API hand out). */
export function snapshot(r: MemberRecord): Member {
  return {
    name: r.name, address: r.address, state: r.state, incarnation: r.incarnation, instance: r.instance,
    meta: r.meta, metaVersion: r.metaVersion, stateChangedAt: r.stateChangedAt,
    protocolVersion: r.protocol, appVersion: r.appVersion,
  };
}

/** A copy of a row as a record. */
export function rowRecord(t: MemberTable, row: number, suspicion: Suspicion | undefined): MemberRecord {
  const id = t.ids[row]!;
  const p = id.profile;
  return {
    name: id.name, address: id.addr, state: STATE_FROM_CODE[t.state[row]!]!, incarnation: t.inc[row]!,
    instance: t.inst[row]!, meta: p.meta, metaVersion: t.metaVer[row]!, stateChangedAt: t.changed[row]!, protocol: p.proto,
    appVersion: p.app, suspicion,
  };
}

/** A row as the public, immutable Member. */
export function rowMember(t: MemberTable, row: number): Member {
  const id = t.ids[row]!;
  const p = id.profile;
  return {
    name: id.name, address: id.addr, state: STATE_FROM_CODE[t.state[row]!]!, incarnation: t.inc[row]!,
    instance: t.inst[row]!, meta: p.meta, metaVersion: t.metaVer[row]!, stateChangedAt: t.changed[row]!,
    protocolVersion: p.proto, appVersion: p.app,
  };
}
