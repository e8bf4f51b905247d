import type { Cipher } from '@grapevine/core';

/**
 * A multicast announcement, version 1, byte by byte:
 *
 *   0   4  magic "gvmc"
 *   4   1  version (1)
 *   5   1  flags: bit 0 sealed, bit 1 leave (the node is going away); other bits must be 0
 *   sealed only:
 *   6   1  cipher id (Cipher.id)
 *   7   1  nonce length n
 *   8   n  nonce
 *   then the body, in the clear, or sealed with the cipher (ciphertext || tag) when the sealed
 *   flag is set, with every byte before it (magic to nonce) as the AEAD's associated data:
 *   8   timestamp, milliseconds since the epoch, unsigned big-endian (below 2^53)
 *   1+  name length, then the name (UTF-8, 1..255 bytes)
 *   1+  address length, then the address (UTF-8, 1..255 bytes)
 *   1+  label length, then the cluster label (UTF-8, 0..255 bytes)
 *   nothing may follow.
 *
 * So with a key the AEAD covers name, address, label, timestamp and the leave flag.
 */
export const ANNOUNCEMENT_MAGIC = Uint8Array.of(0x67, 0x76, 0x6d, 0x63); // "gvmc"
export const ANNOUNCEMENT_VERSION = 1;
/** No valid announcement is larger; bigger datagrams are dropped unread. */
export const MAX_ANNOUNCEMENT_BYTES = 1024;

const FLAG_SEALED = 1;
const FLAG_LEAVE = 2;
const MAX_FIELD = 255;

export interface Announcement {
  name: string;
  /** The gossip address the node announces ("host:port" or a transport URL). */
  addr: string;
  /** Cluster label ('' for none). */
  label: string;
  /** Sender's wall-clock time, ms since the epoch. */
  ts: number;
  /** True for the goodbye a node sends when it closes. */
  leave: boolean;
}

export interface SealingKey {
  cipher: Cipher;
  key: Uint8Array;
  nonce: () => Uint8Array;
}

export interface OpeningKeys {
  cipher: Cipher;
  /** Every key tried in turn (the current one first; older ones while keys rotate). */
  keys: readonly Uint8Array[];
}

export type DecodeResult =
  | { ok: true; announcement: Announcement; sealed: boolean }
  | { ok: false; reason: 'malformed' | 'unauthenticated' };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a field; throws RangeError when over 255 bytes (or empty, unless allowed). */
export function fieldBytes(what: string, value: string, allowEmpty: boolean): Uint8Array {
  const b = encoder.encode(value);
  if (b.length > MAX_FIELD || (!allowEmpty && b.length === 0)) {
    throw new RangeError(`${what} must be ${allowEmpty ? '0' : '1'}..${MAX_FIELD} bytes of UTF-8, got ${b.length}`);
  }
  return b;
}

function encodeBody(a: Announcement): Uint8Array {
  const name = fieldBytes('name', a.name, false);
  const addr = fieldBytes('address', a.addr, false);
  const label = fieldBytes('label', a.label, true);
  const ts = Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(a.ts)));
  const out = new Uint8Array(8 + 3 + name.length + addr.length + label.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(ts / 2 ** 32));
  view.setUint32(4, ts >>> 0);
  let o = 8;
  for (const f of [name, addr, label]) {
    out[o++] = f.length;
    out.set(f, o);
    o += f.length;
  }
  return out;
}

/** The datagram for `a`, sealed when `seal` is given. Throws RangeError on an oversized field. */
export function encodeAnnouncement(a: Announcement, seal?: SealingKey): Uint8Array {
  const body = encodeBody(a);
  const flags = (a.leave ? FLAG_LEAVE : 0) | (seal ? FLAG_SEALED : 0);
  if (seal === undefined) {
    const out = new Uint8Array(6 + body.length);
    out.set(ANNOUNCEMENT_MAGIC, 0);
    out[4] = ANNOUNCEMENT_VERSION;
    out[5] = flags;
    out.set(body, 6);
    return out;
  }
  const nonce = seal.nonce();
  if (nonce.length !== seal.cipher.nonceLength || nonce.length > 255) {
    throw new RangeError(`nonce must be ${seal.cipher.nonceLength} bytes for ${seal.cipher.name}, got ${nonce.length}`);
  }
  const header = new Uint8Array(8 + nonce.length);
  header.set(ANNOUNCEMENT_MAGIC, 0);
  header[4] = ANNOUNCEMENT_VERSION;
  header[5] = flags;
  header[6] = seal.cipher.id;
  header[7] = nonce.length;
  header.set(nonce, 8);
  const sealed = seal.cipher.seal(seal.key, nonce, body, header);
  const out = new Uint8Array(header.length + sealed.length);
  out.set(header, 0);
  out.set(sealed, header.length);
  return out;
}

function decodeBody(b: Uint8Array): Omit<Announcement, 'leave'> | undefined {
  if (b.length < 8 + 3) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hi = view.getUint32(0);
  if (hi >= 2 ** 21) return undefined; // beyond 2^53
  const ts = hi * 2 ** 32 + view.getUint32(4);
  let o = 8;
  const fields: string[] = [];
  for (let i = 0; i < 3; i++) {
    const len = b[o];
    if (len === undefined || o + 1 + len > b.length) return undefined;
    try {
      fields.push(decoder.decode(b.subarray(o + 1, o + 1 + len)));
    } catch {
      return undefined; // not UTF-8
    }
    o += 1 + len;
  }
  if (o !== b.length) return undefined;
  const [name, addr, label] = fields as [string, string, string];
  if (name.length === 0 || addr.length === 0) return undefined;
  return { name, addr, label, ts };
}

/**
 * Read a datagram. With `open`, only announcements sealed with one of its keys pass; without it,
 * only clear ones. Never throws: anything unreadable is 'malformed', anything unverifiable
 * 'unauthenticated'.
 */
export function decodeAnnouncement(data: Uint8Array, open?: OpeningKeys): DecodeResult {
  if (data.length < 6 || data.length > MAX_ANNOUNCEMENT_BYTES) return { ok: false, reason: 'malformed' };
  for (let i = 0; i < 4; i++) if (data[i] !== ANNOUNCEMENT_MAGIC[i]) return { ok: false, reason: 'malformed' };
  if (data[4] !== ANNOUNCEMENT_VERSION) return { ok: false, reason: 'malformed' };
  const flags = data[5]!;
  if ((flags & ~(FLAG_SEALED | FLAG_LEAVE)) !== 0) return { ok: false, reason: 'malformed' };
  const leave = (flags & FLAG_LEAVE) !== 0;
  if ((flags & FLAG_SEALED) === 0) {
    if (open !== undefined) return { ok: false, reason: 'unauthenticated' };
    const body = decodeBody(data.subarray(6));
    return body ? { ok: true, announcement: { ...body, leave }, sealed: false } : { ok: false, reason: 'malformed' };
  }
  if (data.length < 8) return { ok: false, reason: 'malformed' };
  const n = data[7]!;
  if (data.length < 8 + n) return { ok: false, reason: 'malformed' };
  if (open === undefined || data[6] !== open.cipher.id || n !== open.cipher.nonceLength) return { ok: false, reason: 'unauthenticated' };
  const header = data.subarray(0, 8 + n);
  const nonce = data.subarray(8, 8 + n);
  const sealed = data.subarray(8 + n);
  for (const key of open.keys) {
    let plain: Uint8Array | null;
    try {
      plain = open.cipher.open(key, nonce, sealed, header);
    } catch {
      plain = null; // a Cipher must not throw here, but one that does must not break the listener
    }
    if (plain === null) continue;
    const body = decodeBody(plain);
    return body ? { ok: true, announcement: { ...body, leave }, sealed: true } : { ok: false, reason: 'malformed' };
  }
  return { ok: false, reason: 'unauthenticated' };
}
