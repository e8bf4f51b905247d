/**
 * Codec.peekArray for msgpack: the leading numbers and strings of an array, read from the bytes
 * without unpacking the rest (the receive path reads a broadcast's header so, to drop a duplicate
 * copy before its payload is decoded). Read: positive fixint, uint 8–64, float 64 (how msgpackr
 * writes integers beyond 32 bits), and str (fix, 8, 16, 32) of valid UTF-8. Any other element
 * ends the peek there; so does a length running past the bytes.
 */
import { peekText } from '@grapevine/core';

/** Eight bytes seen as a float64 in this machine's byte order, for reading big-endian doubles. */
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function peekMsgpackArray(b: Uint8Array, count: number, out: unknown[]): number {
  if (b.length === 0) return 0;
  const h = b[0]!;
  let len: number;
  let i: number;
  if (h >= 0x90 && h <= 0x9f) {
    len = h & 0x0f;
    i = 1;
  } else if (h === 0xdc && b.length >= 3) {
    len = (b[1]! << 8) | b[2]!;
    i = 3;
  } else if (h === 0xdd && b.length >= 5) {
    len = b[1]! * 0x1000000 + ((b[2]! << 16) | (b[3]! << 8) | b[4]!);
    i = 5;
  } else {
    return 0;
  }
  const want = Math.min(count, len);
  let n = 0;
  while (n < want && i < b.length) {
    const t = b[i]!;
    let v: number | string;
    let size: number;
    if (t <= 0x7f) {
      v = t;
      size = 1;
    } else if (t === 0xcc) {
      if (i + 2 > b.length) return n;
      v = b[i + 1]!;
      size = 2;
    } else if (t === 0xcd) {
      if (i + 3 > b.length) return n;
      v = (b[i + 1]! << 8) | b[i + 2]!;
      size = 3;
    } else if (t === 0xce) {
      if (i + 5 > b.length) return n;
      v = u32(b, i + 1);
      size = 5;
    } else if (t === 0xcf) {
      if (i + 9 > b.length) return n;
      const hi = u32(b, i + 1);
      // Exact only below 2^53; larger ones (msgpackr rounds them) are not read.
      if (hi >= 0x200000) return n;
      v = hi * 0x100000000 + u32(b, i + 5);
      size = 9;
    } else if (t === 0xcb) {
      if (i + 9 > b.length) return n;
      for (let k = 0; k < 8; k++) f64Bytes[littleEndian ? 7 - k : k] = b[i + 1 + k]!;
      v = f64[0]!;
      size = 9;
    } else {
      let start: number;
      let strLen: number;
      if (t >= 0xa0 && t <= 0xbf) {
        strLen = t & 0x1f;
        start = i + 1;
      } else if (t === 0xd9 && i + 2 <= b.length) {
        strLen = b[i + 1]!;
        start = i + 2;
      } else if (t === 0xda && i + 3 <= b.length) {
        strLen = (b[i + 1]! << 8) | b[i + 2]!;
        start = i + 3;
      } else if (t === 0xdb && i + 5 <= b.length) {
        strLen = u32(b, i + 1);
        start = i + 5;
      } else {
        return n;
      }
      if (start + strLen > b.length) return n;
      const s = peekText(b, start, start + strLen);
      if (s === undefined) return n;
      v = s;
      size = start + strLen - i;
    }
    out[n++] = v;
    i += size;
  }
  return n;
}

function u32(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}
