/**
 * Application messages on the wire: kind 9 of the protocol, with a sub-kind in the second element.
 * docs/protocol.md lists every field. parseUserMessage validates a decoded value field by field and
 * returns null for anything malformed, exactly like parseMessage does for membership messages.
 */
import type { Limits } from '../limits.js';
import { utf8Length } from '../protocol/messages.js';

/** Types 0..127 are reserved for Grapevine; applications use 128..65535. */
export const FIRST_USER_TYPE = 128;
export const MAX_USER_TYPE = 0xffff;

export const UserKind = {
  /** A message to one node (sendTo / sendToMany / group send). */
  direct: 0,
  /** A gossip broadcast: deduplicated by (origin, id), forwarded while hops remain. */
  gossip: 1,
  request: 2,
  reply: 3,
  streamOpen: 4,
  streamData: 5,
  streamCredit: 6,
  streamEnd: 7,
  streamReset: 8,
} as const;

export const ReplyStatus = { ok: 0, error: 1, noHandler: 2, busy: 3 } as const;

export interface DirectMsg { s: 0; type: number; from: string; payload: unknown }
export interface GossipMsg { s: 1; type: number; origin: string; id: number; hops: number; payload: unknown }
export interface RequestMsg { s: 2; type: number; from: string; fromAddr: string; reqId: number; payload: unknown }
export interface ReplyMsg { s: 3; reqId: number; from: string; status: number; payload: unknown }
export interface StreamOpenMsg { s: 4; opener: string; sid: number; type: number; fromAddr: string; header: unknown; window: number }
export interface StreamDataMsg { s: 5; opener: string; sid: number; seq: number; data: Uint8Array }
export interface StreamCreditMsg { s: 6; opener: string; sid: number; bytes: number }
export interface StreamEndMsg { s: 7; opener: string; sid: number; seq: number }
export interface StreamResetMsg { s: 8; opener: string; sid: number; code: string; message: string }

export type UserMessage =
  | DirectMsg | GossipMsg | RequestMsg | ReplyMsg
  | StreamOpenMsg | StreamDataMsg | StreamCreditMsg | StreamEndMsg | StreamResetMsg;

/** The array that goes to the codec. */
export function userToWire(m: UserMessage): unknown[] {
  switch (m.s) {
    case 0: return [9, 0, m.type, m.from, m.payload];
    case 1: return [9, 1, m.type, m.origin, m.id, m.hops, m.payload];
    case 2: return [9, 2, m.type, m.from, m.fromAddr, m.reqId, m.payload];
    case 3: return [9, 3, m.reqId, m.from, m.status, m.payload];
    case 4: return [9, 4, m.opener, m.sid, m.type, m.fromAddr, m.header, m.window];
    case 5: return [9, 5, m.opener, m.sid, m.seq, m.data];
    case 6: return [9, 6, m.opener, m.sid, m.bytes];
    case 7: return [9, 7, m.opener, m.sid, m.seq];
    case 8: return [9, 8, m.opener, m.sid, m.code, m.message];
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isType(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= FIRST_USER_TYPE && v <= MAX_USER_TYPE;
}

function isName(v: unknown, limits: Limits): v is string {
  // Names are bounded in UTF-8 bytes; a JS string of n UTF-16 units is at most 3n bytes, and at
  // least n, so the length check is a cheap first filter and the exact count follows. Counted,
  // not encoded: this runs for every inbound part, duplicates included, and a TextEncoder plus a
  // byte array per part was young-generation garbage on the receive path (docs/mesh.md, "Latency
  // work").
  if (typeof v !== 'string' || v.length === 0 || v.length > limits.maxNameBytes) return false;
  return v.length * 3 <= limits.maxNameBytes || utf8Length(v) <= limits.maxNameBytes;
}

function isAddr(v: unknown, limits: Limits): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= limits.maxAddressBytes;
}

function isShortText(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length <= max;
}

/**
 * The checks parseUserMessage makes of a gossip message's header — `[9, 1, type, origin, id,
 * hops]`, the payload aside — for a header peeked before the payload is decoded (Codec.peekArray).
 */
export function isGossipHead(a: readonly unknown[], limits: Limits): a is readonly [9, 1, number, string, number, number, ...unknown[]] {
  return a[0] === 9 && a[1] === 1 && isType(a[2]) && isName(a[3], limits) && isCount(a[4]) && isCount(a[5]) && a[5] <= 255;
}

/** Validate one decoded kind-9 value. Returns null when anything is off. */
export function parseUserMessage(v: unknown[], limits: Limits): UserMessage | null {
  const a = v;
  switch (a[1]) {
    case 0:
      if (a.length < 5 || !isType(a[2]) || !isName(a[3], limits)) return null;
      return { s: 0, type: a[2], from: a[3], payload: a[4] ?? null };
    case 1:
      if (a.length < 7 || !isGossipHead(a, limits)) return null;
      return { s: 1, type: a[2], origin: a[3], id: a[4], hops: a[5], payload: a[6] ?? null };
    case 2:
      if (a.length < 7 || !isType(a[2]) || !isName(a[3], limits) || !isAddr(a[4], limits) || !isCount(a[5])) return null;
      return { s: 2, type: a[2], from: a[3], fromAddr: a[4], reqId: a[5], payload: a[6] ?? null };
    case 3:
      if (a.length < 6 || !isCount(a[2]) || !isName(a[3], limits) || !isCount(a[4])) return null;
      return { s: 3, reqId: a[2], from: a[3], status: a[4], payload: a[5] ?? null };
    case 4:
      if (a.length < 8 || !isName(a[2], limits) || !isCount(a[3]) || !isType(a[4]) || !isAddr(a[5], limits) || !isCount(a[7])) return null;
      return { s: 4, opener: a[2], sid: a[3], type: a[4], fromAddr: a[5], header: a[6] ?? null, window: a[7] };
    case 5:
      if (a.length < 6 || !isName(a[2], limits) || !isCount(a[3]) || !isCount(a[4]) || !(a[5] instanceof Uint8Array)) return null;
      return { s: 5, opener: a[2], sid: a[3], seq: a[4], data: a[5] };
    case 6:
      if (a.length < 5 || !isName(a[2], limits) || !isCount(a[3]) || !isCount(a[4])) return null;
      return { s: 6, opener: a[2], sid: a[3], bytes: a[4] };
    case 7:
      if (a.length < 5 || !isName(a[2], limits) || !isCount(a[3]) || !isCount(a[4])) return null;
      return { s: 7, opener: a[2], sid: a[3], seq: a[4] };
    case 8:
      if (a.length < 6 || !isName(a[2], limits) || !isCount(a[3]) || !isShortText(a[4], 64) || !isShortText(a[5], 1024)) return null;
      return { s: 8, opener: a[2], sid: a[3], code: a[4], message: a[5] };
    default:
      return null;
  }
}
