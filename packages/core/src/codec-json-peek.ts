/**
 * Codec.peekArray for the JSON codec: the leading numbers and strings of `[a,b,...]` as this
 * codec writes them (no whitespace), read from the bytes without parsing the rest. Anything it is
 * not sure of — an escape in a string, a fraction or exponent, whitespace, an object, an element
 * no ',' or ']' ends — ends the peek there, and the caller decodes the whole part as before.
 */
import { peekText } from './peek-text.js';

export function peekJsonArray(b: Uint8Array, count: number, out: unknown[]): number {
  if (b.length === 0 || b[0] !== 0x5b) return 0; // '['
  let i = 1;
  let n = 0;
  while (n < count && i < b.length) {
    const c = b[i]!;
    let v: string | number;
    if (c === 0x22) {
      // '"': a string with no escape and no control character (JSON.parse refuses raw ones).
      const start = i + 1;
      let j = start;
      for (; j < b.length; j++) {
        const x = b[j]!;
        if (x === 0x22) break;
        if (x === 0x5c || x < 0x20) return n;
      }
      if (j >= b.length) return n;
      const s = peekText(b, start, j);
      if (s === undefined) return n;
      v = s;
      i = j + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      // An integer: optional '-', no leading zero, at most 16 digits (exact below 2^53).
      let j = c === 0x2d ? i + 1 : i;
      const digitsAt = j;
      let x = 0;
      for (; j < b.length && b[j]! >= 0x30 && b[j]! <= 0x39; j++) x = x * 10 + (b[j]! - 0x30);
      const digits = j - digitsAt;
      if (digits === 0 || digits > 16 || (digits > 1 && b[digitsAt] === 0x30) || x > Number.MAX_SAFE_INTEGER) return n;
      if (j < b.length && (b[j] === 0x2e || b[j] === 0x65 || b[j] === 0x45)) return n; // . e E
      v = c === 0x2d ? -x : x;
      i = j;
    } else {
      return n;
    }
    // Only an element that a ',' or ']' ends is read: in a truncated part, "12" may be the start
    // of 1234.
    if (i >= b.length || (b[i] !== 0x2c && b[i] !== 0x5d)) return n;
    out[n++] = v;
    if (b[i] === 0x5d) return n;
    i++;
  }
  return n;
}
