/**
 * Envelope v1: the framing every transport carries. Byte layout (docs/protocol.md):
 *
 *   0      version   u8   = 1
 *   1      flags     u8   bit0 compound, bit1 compressed, bit2 encrypted, bits 3-7 reserved (0)
 *   2      codec     u8   codec id (1 JSON, 2 msgpack)
 *   3..    body
 *            single:   the codec's bytes of one message
 *            compound: count u8 (>= 1), then count × (length u16 BE, that many codec bytes)
 *
 * decodeEnvelope never throws: malformed input yields a drop reason the caller counts.
 */
export const ENVELOPE_VERSION = 1;
export const FLAG_COMPOUND = 0x01;
export const FLAG_COMPRESSED = 0x02;
export const FLAG_ENCRYPTED = 0x04;
const RESERVED_FLAGS = 0xf8;
/** Bytes before the body. */
export const ENVELOPE_HEADER_BYTES = 3;
/** Extra bytes a compound adds: the count, and two per part. */
export const COMPOUND_OVERHEAD = 1;
export const COMPOUND_PART_OVERHEAD = 2;
/** A compound part's length is a u16. */
export const MAX_PART_BYTES = 0xffff;

export type EnvelopeDropReason =
  | 'truncated'
  | 'bad-version'
  | 'reserved-flags'
  | 'unsupported-flags'
  | 'wrong-codec'
  | 'bad-compound'
  | 'too-many-parts';

export interface DecodedEnvelope {
  flags: number;
  codecId: number;
  /** Views into the input; no copy is made. */
  parts: Uint8Array[];
}

/** The body of an envelope: one part as is, or a compound of 2..255 length-prefixed parts. */
export function encodeBody(parts: readonly Uint8Array[]): Uint8Array {
  checkParts(parts);
  return parts.length === 1 ? parts[0]! : encodeBodyAfter(parts, 0);
}

/** Bytes encodeBody(parts) takes; throws as it would. */
export function bodySize(parts: readonly Uint8Array[]): number {
  checkParts(parts);
  if (parts.length === 1) return parts[0]!.length;
  let size = COMPOUND_OVERHEAD;
  for (const p of parts) size += COMPOUND_PART_OVERHEAD + p.length;
  return size;
}

function checkParts(parts: readonly Uint8Array[]): void {
  if (parts.length === 0) throw new RangeError('envelope needs at least one part');
  if (parts.length > 255) throw new RangeError('compound envelope holds at most 255 parts');
  for (const p of parts) {
    // decodeBody refuses an empty body or part, so never write one.
    if (p.length === 0) throw new RangeError('envelope part is empty');
    if (parts.length > 1 && p.length > MAX_PART_BYTES) throw new RangeError('compound part over 65535 bytes');
  }
}

/**
 * `front` bytes left for the caller (an envelope header), then the body: so a packet is written
 * into one buffer, not a body copied once more behind its header. Parts already checked.
 */
export function encodeBodyAfter(parts: readonly Uint8Array[], front: number): Uint8Array {
  if (parts.length === 1) {
    const out = new Uint8Array(front + parts[0]!.length);
    out.set(parts[0]!, front);
    return out;
  }
  let size = COMPOUND_OVERHEAD;
  for (const p of parts) size += COMPOUND_PART_OVERHEAD + p.length;
  const out = new Uint8Array(front + size);
  out[front] = parts.length;
  let o = front + COMPOUND_OVERHEAD;
  for (const p of parts) {
    out[o] = p.length >>> 8;
    out[o + 1] = p.length & 0xff;
    out.set(p, o + 2);
    o += 2 + p.length;
  }
  return out;
}

/** A plain envelope (no label, compression or encryption): the three header bytes and the body. */
export function encodeEnvelope(codecId: number, parts: readonly Uint8Array[], extraFlags = 0): Uint8Array {
  checkParts(parts);
  const out = encodeBodyAfter(parts, ENVELOPE_HEADER_BYTES);
  out[0] = ENVELOPE_VERSION;
  out[1] = parts.length > 1 ? extraFlags | FLAG_COMPOUND : extraFlags & ~FLAG_COMPOUND;
  out[2] = codecId;
  return out;
}

/** Size of the envelope holding parts of these sizes (for packing to a budget). */
export function envelopeSize(partSizes: readonly number[]): number {
  if (partSizes.length === 1) return ENVELOPE_HEADER_BYTES + partSizes[0]!;
  let n = ENVELOPE_HEADER_BYTES + COMPOUND_OVERHEAD;
  for (const s of partSizes) n += COMPOUND_PART_OVERHEAD + s;
  return n;
}

export function decodeEnvelope(
  data: Uint8Array,
  expectCodec: number,
  maxParts: number,
): DecodedEnvelope | EnvelopeDropReason {
  if (data.length < ENVELOPE_HEADER_BYTES + 1) return 'truncated';
  if (data[0] !== ENVELOPE_VERSION) return 'bad-version';
  const flags = data[1]!;
  if (flags & RESERVED_FLAGS) return 'reserved-flags';
  // Compression and encryption are negotiated by the pipeline stages that own them; a bare
  // envelope reader refuses them rather than misreading sealed bytes as a message.
  if (flags & (FLAG_COMPRESSED | FLAG_ENCRYPTED)) return 'unsupported-flags';
  const codecId = data[2]!;
  if (codecId !== expectCodec) return 'wrong-codec';
  return decodeBody(data.subarray(ENVELOPE_HEADER_BYTES), flags, codecId, maxParts);
}

/** Split a body into its parts (views into `body`, no copy). Checks the whole layout first. */
export function decodeBody(body: Uint8Array, flags: number, codecId: number, maxParts: number): DecodedEnvelope | EnvelopeDropReason {
  if (body.length === 0) return 'truncated';
  if (!(flags & FLAG_COMPOUND)) return { flags, codecId, parts: [body] };
  const count = body[0]!;
  if (count === 0) return 'bad-compound';
  if (count > maxParts) return 'too-many-parts';
  let o = COMPOUND_OVERHEAD;
  for (let i = 0; i < count; i++) {
    if (o + 2 > body.length) return 'bad-compound';
    const len = (body[o]! << 8) | body[o + 1]!;
    o += 2 + len;
    if (len === 0 || o > body.length) return 'bad-compound';
  }
  if (o !== body.length) return 'bad-compound';
  const parts: Uint8Array[] = new Array(count);
  o = COMPOUND_OVERHEAD;
  for (let i = 0; i < count; i++) {
    const len = (body[o]! << 8) | body[o + 1]!;
    parts[i] = body.subarray(o + 2, o + 2 + len);
    o += 2 + len;
  }
  return { flags, codecId, parts };
}
