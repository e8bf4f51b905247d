import type { ArrayFrame, Codec } from './codec.js';
import { peekJsonArray } from './codec-json-peek.js';

/**
 * JSON codec: readable on the wire, slower and larger than msgpack. Uint8Array values are carried
 * as {"$b": "<base64>"} so binary payloads survive a round trip. A plain object whose only key is
 * "$b" or "$o" is escaped as {"$o": [key, value]}, so user data never reads back as binary.
 */
const encoder = new TextEncoder();
const CLOSE = encoder.encode(']');
const decoder = new TextDecoder('utf-8', { fatal: true });

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rem = bytes.length - i;
  if (rem === 1) {
    const n = bytes[i]! << 16;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + '==';
  } else if (rem === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + '=';
  }
  return out;
}

function fromBase64(s: string): Uint8Array {
  if (s.length % 4 !== 0) throw new Error('bad base64 length');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = s.charCodeAt(i + j);
      const v = c === 61 && i + j >= s.length - pad ? 0 : c < 128 ? B64_INDEX[c]! : -1;
      if (v < 0) throw new Error('bad base64 character');
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = (n >> 16) & 0xff;
    if (o < out.length) out[o++] = (n >> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
  }
  return out;
}

/** Single key of a plain object that needs escaping ("$b" or "$o"), else undefined. */
function markerKey(v: unknown): '$b' | '$o' | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return undefined;
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === '$b' || keys[0] === '$o') ? keys[0] : undefined;
}

export const jsonCodec: Codec = {
  id: 1,
  name: 'json',
  encode(value) {
    return encoder.encode(
      JSON.stringify(value, function (this: Record<string, unknown>, k, v: unknown) {
        // this[k] is the value before toJSON, which would turn a Node Buffer into {type, data}.
        const raw = this[k];
        if (raw instanceof Uint8Array) return { $b: toBase64(raw) };
        const key = markerKey(v);
        return key === undefined ? v : { $o: [key, (v as Record<string, unknown>)[key]] };
      }),
    );
  },
  frameArray(head): ArrayFrame {
    // encode(head) is "[h1,...,hn]"; the full array is "[h1,...,hn," + last + "]".
    if (head.length === 0) return { before: encoder.encode('['), after: CLOSE };
    const h = jsonCodec.encode(head);
    const before = new Uint8Array(h.length);
    before.set(h.subarray(0, h.length - 1));
    before[h.length - 1] = 0x2c; // ","
    return { before, after: CLOSE };
  },
  peekArray: peekJsonArray,
  decode(bytes) {
    return JSON.parse(decoder.decode(bytes), (_k, v: unknown) => {
      const key = markerKey(v);
      if (key === '$b') {
        const b64 = (v as { $b: unknown }).$b;
        return typeof b64 === 'string' ? fromBase64(b64) : v;
      }
      if (key === '$o') {
        const esc = (v as { $o: unknown }).$o;
        if (!Array.isArray(esc) || esc.length !== 2 || (esc[0] !== '$b' && esc[0] !== '$o')) {
          throw new Error('bad "$o" escape');
        }
        const out: Record<string, unknown> = {};
        out[esc[0] as string] = esc[1];
        return out;
      }
      return v;
    });
  },
};
