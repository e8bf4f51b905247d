import type { Codec } from './codec.js';

/**
 * JSON codec: readable on the wire, slower and larger than msgpack. Uint8Array values are carried
 * as {"$b": "<base64>"} so binary payloads survive a round trip.
 */
const encoder = new TextEncoder();
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

export const jsonCodec: Codec = {
  id: 1,
  name: 'json',
  encode(value) {
    return encoder.encode(
      JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? { $b: toBase64(v) } : v)),
    );
  },
  decode(bytes) {
    return JSON.parse(decoder.decode(bytes), (_k, v: unknown) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const keys = Object.keys(v);
        if (keys.length === 1 && keys[0] === '$b' && typeof (v as { $b: unknown }).$b === 'string') {
          return fromBase64((v as { $b: string }).$b);
        }
      }
      return v;
    });
  },
};
