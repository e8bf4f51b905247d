/**
 * Protocol messages and their wire shape. Each message is a codec-encoded array whose first
 * element is the kind; docs/protocol.md lists every field. parseMessage validates a decoded value
 * field by field against the limits and returns null for anything malformed: a decoded packet is
 * never trusted before it passes here.
 */
import type { Limits } from '../limits.js';
import { STATE_FROM_CODE, type MemberState } from '../member.js';
import { isBucketCount } from './view-digest.js';

export const Kind = {
  ping: 1,
  pingReq: 2,
  ack: 3,
  nack: 4,
  alive: 5,
  suspect: 6,
  dead: 7,
  pushPull: 8,
  /** Application messages (the messaging layer). */
  user: 9,
  /** Set reconciliation (reconcile.ts): a request with bucket sums, its reply, a push of members. */
  reconcile: 10,
  reconcileReply: 11,
  reconcilePush: 12,
} as const;

/** `digest`: the sender's view digest (view-digest.ts); absent from senders that do not carry one. */
export interface Ping { k: 1; seq: number; target: string; from: string; fromAddr: string; digest?: number }
export interface PingReq { k: 2; seq: number; target: string; targetAddr: string; from: string; fromAddr: string; nack: boolean }
/** `digest` and `from`: the view digest of the node sending the ack, and its name; both or neither. */
export interface Ack { k: 3; seq: number; digest?: number; from?: string }
export interface Nack { k: 4; seq: number }
/** The wire protocol this build speaks, and the oldest it still talks to. */
export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;
/** Longest application version string. */
export const MAX_APP_VERSION_BYTES = 64;

/** `proto` and `app` (the node's protocol and application versions) default to 1 and '' when absent. */
export interface Alive { k: 5; name: string; addr: string; inc: number; inst: number; metaVer: number; meta: Record<string, string>; proto?: number; app?: string }
export interface Suspect { k: 6; name: string; inc: number; from: string; inst: number }
export interface Dead { k: 7; name: string; inc: number; from: string; inst: number }
export interface NodeState { name: string; addr: string; inc: number; inst: number; state: MemberState; metaVer: number; meta: Record<string, string>; proto?: number; app?: string }
/**
 * `refusal`: set in a reply that refuses the exchange; states are then empty. `refusalCode` says
 * why in a form code can match: 'incompatible' (versions; also what an absent code means) or
 * 'name-taken' (the receiver itself holds the requester's name).
 */
export interface PushPull { k: 8; seq: number; join: boolean; reply: boolean; from: string; fromAddr: string; states: NodeState[]; proto?: number; app?: string; refusal?: string; refusalCode?: RefusalCode }
export type RefusalCode = 'incompatible' | 'name-taken';

/**
 * Set reconciliation (reconcile.ts). A request carries the sender's view split into `b` buckets
 * (a power of two, at most MAX_DIGEST_BUCKETS): `sums[i]` is the sum of its live members'
 * digest contributions in bucket i. The reply names the buckets it answers (`buckets`, at the
 * replier's `b`, which may be coarser), the replier's sums for them, and the replier's live
 * members in them. A push carries members only, and gets no answer.
 */
export interface Reconcile { k: 10; seq: number; from: string; fromAddr: string; b: number; sums: number[] }
export interface ReconcileReply { k: 11; seq: number; from: string; b: number; buckets: number[]; sums: number[]; states: NodeState[] }
export interface ReconcilePush { k: 12; from: string; states: NodeState[] }

export type Message = Ping | PingReq | Ack | Nack | Alive | Suspect | Dead | PushPull | Reconcile | ReconcileReply | ReconcilePush;

const PP_JOIN = 1;
const PP_REPLY = 2;

/** The array that goes to the codec. */
export function toWire(m: Message): unknown[] {
  switch (m.k) {
    case 1: return m.digest === undefined ? [1, m.seq, m.target, m.from, m.fromAddr] : [1, m.seq, m.target, m.from, m.fromAddr, m.digest];
    case 2: return [2, m.seq, m.target, m.targetAddr, m.from, m.fromAddr, m.nack ? 1 : 0];
    case 3: return m.digest === undefined || m.from === undefined ? [3, m.seq] : [3, m.seq, m.digest, m.from];
    case 4: return [4, m.seq];
    case 5: return [5, m.name, m.addr, m.inc, m.inst, m.metaVer, m.meta, m.proto ?? PROTOCOL_VERSION, m.app ?? ''];
    case 6: return [6, m.name, m.inc, m.from, m.inst];
    case 7: return [7, m.name, m.inc, m.from, m.inst];
    case 8:
      return [8, m.seq, (m.join ? PP_JOIN : 0) | (m.reply ? PP_REPLY : 0), m.from, m.fromAddr,
        m.states.map(stateToWire),
        m.proto ?? PROTOCOL_VERSION, m.app ?? '', ...(m.refusal !== undefined ? [m.refusal, ...(m.refusalCode !== undefined ? [m.refusalCode] : [])] : [])];
    case 10: return [10, m.seq, m.from, m.fromAddr, m.b, m.sums];
    case 11: return [11, m.seq, m.from, m.b, m.buckets, m.sums, m.states.map(stateToWire)];
    case 12: return [12, m.from, m.states.map(stateToWire)];
  }
}

function stateToWire(s: NodeState): unknown[] {
  return [s.name, s.addr, s.inc, s.inst, STATE_CODE_OF[s.state], s.metaVer, s.meta, s.proto ?? PROTOCOL_VERSION, s.app ?? ''];
}

const STATE_CODE_OF: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 };

/**
 * The part of TextEncoder the core uses, named here so the published types never mention the
 * DOM's (or Node's) TextEncoder: a consumer compiling with lib ["es2022"] has neither.
 */
export interface Utf8Encoder {
  encode(input: string): Uint8Array;
}

const utf8: Utf8Encoder = new TextEncoder();

/**
 * The length of `s` in UTF-8 as TextEncoder writes it, without allocating (inbound names and keys
 * are checked against their limits on every message). A surrogate pair is 4 bytes; a lone
 * surrogate becomes U+FFFD, 3 bytes.
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** A view digest: a uint32. */
function isDigest(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function isName(v: unknown, limits: Limits): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= limits.maxNameBytes && utf8Length(v) <= limits.maxNameBytes;
}

function isAddr(v: unknown, limits: Limits): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= limits.maxAddressBytes;
}

/** Validates a metadata map; returns a fresh plain object or null. */
export function parseMeta(v: unknown, limits: Limits): Record<string, string> | null {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return null;
  const keys = Object.keys(v);
  if (keys.length > limits.maxMetaKeys) return null;
  let bytes = 0;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const key of keys) {
    const val = (v as Record<string, unknown>)[key];
    if (typeof val !== 'string' || key.length === 0) return null;
    bytes += utf8Length(key) + utf8Length(val);
    if (bytes > limits.maxMetaBytes) return null;
    out[key] = val;
  }
  return { ...out };
}

export function metaBytes(meta: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(meta)) n += utf8Length(k) + utf8Length(v);
  return n;
}

/** Optional trailing version fields: absent means protocol 1 and no application version. */
function parseVersions(proto: unknown, app: unknown): { proto: number; app: string } | null {
  const p = proto === undefined || proto === null ? 1 : proto;
  const a = app === undefined || app === null ? '' : app;
  if (!isCount(p) || p > 255 || typeof a !== 'string' || utf8Length(a) > MAX_APP_VERSION_BYTES) return null;
  return { proto: p, app: a };
}

function parseState(v: unknown, limits: Limits): NodeState | null {
  if (!Array.isArray(v) || v.length < 7) return null;
  const [name, addr, inc, inst, code, metaVer, rawMeta] = v as unknown[];
  if (!isName(name, limits) || !isAddr(addr, limits) || !isCount(inc) || !isCount(inst) || !isCount(metaVer)) return null;
  if (typeof code !== 'number' || !Number.isInteger(code)) return null;
  const state = STATE_FROM_CODE[code];
  if (!state) return null;
  const meta = parseMeta(rawMeta, limits);
  if (!meta) return null;
  const ver = parseVersions(v[7], v[8]);
  if (!ver) return null;
  return { name, addr, inc, inst, state, metaVer, meta, ...ver };
}

/**
 * A check for member states (push-pull and reconciliation lists) that would change nothing at the
 * receiver: a state for which it returns true is left out of the parsed list, unvalidated. It may
 * return true only for an array parseState would accept (held-news.ts: exact equality with a held
 * record).
 */
export type HeldStateCheck = (v: readonly unknown[]) => boolean;

/**
 * Validate one decoded wire value. Returns null when anything is off. With `held`, member states
 * it recognises are skipped rather than parsed (HeldStateCheck).
 */
export function parseMessage(v: unknown, limits: Limits, held?: HeldStateCheck): Message | null {
  if (!Array.isArray(v) || v.length === 0) return null;
  const a = v as unknown[];
  switch (a[0]) {
    case 1: {
      if (a.length < 5 || !isCount(a[1]) || !isName(a[2], limits) || !isName(a[3], limits) || !isAddr(a[4], limits)) return null;
      const digest = a[5];
      if (digest === undefined || digest === null) return { k: 1, seq: a[1], target: a[2], from: a[3], fromAddr: a[4] };
      if (!isDigest(digest)) return null;
      return { k: 1, seq: a[1], target: a[2], from: a[3], fromAddr: a[4], digest };
    }
    case 2: {
      if (a.length < 7 || !isCount(a[1]) || !isName(a[2], limits) || !isAddr(a[3], limits) || !isName(a[4], limits) || !isAddr(a[5], limits)) return null;
      return { k: 2, seq: a[1], target: a[2], targetAddr: a[3], from: a[4], fromAddr: a[5], nack: a[6] === 1 };
    }
    case 3: {
      const [, seq, digest, from] = a;
      if (!isCount(seq)) return null;
      if (digest === undefined || digest === null) return { k: 3, seq };
      if (!isDigest(digest) || !isName(from, limits)) return null;
      return { k: 3, seq, digest, from };
    }
    case 4: {
      if (a.length < 2 || !isCount(a[1])) return null;
      return { k: 4, seq: a[1] };
    }
    case 5: {
      if (a.length < 7 || !isName(a[1], limits) || !isAddr(a[2], limits) || !isCount(a[3]) || !isCount(a[4]) || !isCount(a[5])) return null;
      const meta = parseMeta(a[6], limits);
      if (!meta) return null;
      const ver = parseVersions(a[7], a[8]);
      if (!ver) return null;
      return { k: 5, name: a[1], addr: a[2], inc: a[3], inst: a[4], metaVer: a[5], meta, ...ver };
    }
    case 6:
    case 7: {
      if (a.length < 5 || !isName(a[1], limits) || !isCount(a[2]) || !isName(a[3], limits) || !isCount(a[4])) return null;
      return { k: a[0], name: a[1], inc: a[2], from: a[3], inst: a[4] };
    }
    case 8: {
      if (a.length < 6 || !isCount(a[1]) || !isCount(a[2]) || !isName(a[3], limits) || !isAddr(a[4], limits)) return null;
      const states = parseStates(a[5], limits, held);
      if (!states) return null;
      const ver = parseVersions(a[6], a[7]);
      if (!ver) return null;
      const refusal = a[8];
      if (refusal !== undefined && refusal !== null && (typeof refusal !== 'string' || refusal.length > 512)) return null;
      // An unknown refusal code (a newer peer's) reads as a plain refusal: still a refusal.
      const code = a[9] === 'name-taken' ? ('name-taken' as const) : undefined;
      return {
        k: 8, seq: a[1], join: (a[2] & PP_JOIN) !== 0, reply: (a[2] & PP_REPLY) !== 0, from: a[3], fromAddr: a[4], states, ...ver,
        ...(typeof refusal === 'string' ? { refusal, ...(code !== undefined ? { refusalCode: code } : {}) } : {}),
      };
    }
    case 10: {
      if (a.length < 6 || !isCount(a[1]) || !isName(a[2], limits) || !isAddr(a[3], limits) || !isBucketCount(a[4] as number)) return null;
      const b = a[4] as number;
      const sums = a[5];
      if (!Array.isArray(sums) || sums.length !== b || !sums.every(isDigest)) return null;
      return { k: 10, seq: a[1], from: a[2], fromAddr: a[3], b, sums: sums as number[] };
    }
    case 11: {
      if (a.length < 7 || !isCount(a[1]) || !isName(a[2], limits) || !isBucketCount(a[3] as number)) return null;
      const b = a[3] as number;
      const [, , , , buckets, sums] = a;
      if (!Array.isArray(buckets) || !Array.isArray(sums) || buckets.length > b || sums.length !== buckets.length) return null;
      if (!buckets.every((i) => isCount(i) && i < b) || !sums.every(isDigest)) return null;
      const states = parseStates(a[6], limits, held);
      if (!states) return null;
      return { k: 11, seq: a[1], from: a[2], b, buckets: buckets as number[], sums: sums as number[], states };
    }
    case 12: {
      if (a.length < 3 || !isName(a[1], limits)) return null;
      const states = parseStates(a[2], limits, held);
      if (!states) return null;
      return { k: 12, from: a[1], states };
    }
    default:
      return null;
  }
}

/** A list of member states, at most limits.maxMembers of them, every one valid (or held: skipped). */
function parseStates(raw: unknown, limits: Limits, held: HeldStateCheck | undefined): NodeState[] | null {
  if (!Array.isArray(raw) || raw.length > limits.maxMembers) return null;
  const states: NodeState[] = [];
  for (const r of raw) {
    if (held !== undefined && Array.isArray(r) && held(r)) continue;
    const s = parseState(r, limits);
    if (!s) return null;
    states.push(s);
  }
  return states;
}

export { utf8 as textEncoder };
