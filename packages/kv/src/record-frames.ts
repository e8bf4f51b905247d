/**
 * Records as bytes, for range-transfer streams (which carry bytes, not codec values). Each frame:
 *   u32 frame length (bytes after this field) | u16 key length | key (UTF-8) | u8 node length |
 *   node (UTF-8) | f64 ts | f64 exp | u8 flags (bit 0: tombstone) | value bytes (the rest)
 * all big-endian. The reader is incremental and bounded: a frame longer than the key and value
 * limits allow, or a field that does not fit its frame, is a protocol error (the stream is reset),
 * never an allocation of whatever size a peer claims.
 */
import type { KvRecord } from './record.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export function encodeRecord(r: KvRecord): Uint8Array {
  const key = enc.encode(r.key);
  const node = enc.encode(r.node);
  const vlen = r.value ? r.value.length : 0;
  const len = 2 + key.length + 1 + node.length + 8 + 8 + 1 + vlen;
  const out = new Uint8Array(4 + len);
  const dv = new DataView(out.buffer);
  let o = 0;
  dv.setUint32(o, len);
  o += 4;
  dv.setUint16(o, key.length);
  o += 2;
  out.set(key, o);
  o += key.length;
  dv.setUint8(o, node.length);
  o += 1;
  out.set(node, o);
  o += node.length;
  dv.setFloat64(o, r.ts);
  o += 8;
  dv.setFloat64(o, r.exp);
  o += 8;
  dv.setUint8(o, r.value ? 0 : 1);
  o += 1;
  if (r.value) out.set(r.value, o);
  return out;
}

export class FrameError extends Error {}

/** Incremental reader of record frames. */
export class FrameReader {
  private buf = new Uint8Array(0);

  constructor(
    private readonly maxKeyBytes: number,
    private readonly maxValueBytes: number,
  ) {}

  /** Largest frame a valid record can make. */
  get maxFrame(): number {
    return 2 + this.maxKeyBytes + 1 + 255 + 17 + this.maxValueBytes;
  }

  /** Feed bytes; returns the records completed by them. Throws FrameError on a malformed frame. */
  push(chunk: Uint8Array): KvRecord[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf, 0);
    joined.set(chunk, this.buf.length);
    const out: KvRecord[] = [];
    const dv = new DataView(joined.buffer, joined.byteOffset, joined.byteLength);
    let o = 0;
    while (joined.length - o >= 4) {
      const len = dv.getUint32(o);
      if (len > this.maxFrame || len < 2 + 1 + 17) throw new FrameError(`frame of ${len} bytes out of bounds`);
      if (joined.length - o - 4 < len) break;
      const start = o + 4;
      const end = start + len;
      let p = start;
      const klen = dv.getUint16(p);
      p += 2;
      if (klen === 0 || klen > this.maxKeyBytes || p + klen + 1 > end) throw new FrameError('bad key length');
      const key = dec.decode(joined.subarray(p, p + klen));
      p += klen;
      const nlen = dv.getUint8(p);
      p += 1;
      if (nlen === 0 || p + nlen + 17 > end) throw new FrameError('bad node length');
      const node = dec.decode(joined.subarray(p, p + nlen));
      p += nlen;
      const ts = dv.getFloat64(p);
      p += 8;
      const exp = dv.getFloat64(p);
      p += 8;
      const flags = dv.getUint8(p);
      p += 1;
      if (!Number.isSafeInteger(ts) || ts < 0 || !Number.isSafeInteger(exp) || exp < 0) throw new FrameError('bad version or expiry');
      const tomb = (flags & 1) === 1;
      if (tomb && p !== end) throw new FrameError('tombstone with a value');
      const value = tomb ? null : joined.slice(p, end);
      if (value && value.length > this.maxValueBytes) throw new FrameError('value too large');
      out.push({ key, value, ts, node, exp });
      o = end;
    }
    this.buf = joined.slice(o);
    return out;
  }

  /** Bytes of an unfinished frame still buffered (the stream must not end with any). */
  get pending(): number {
    return this.buf.length;
  }
}
