/**
 * XChaCha20-Poly1305 with the bulk work done by node:crypto's ChaCha20-Poly1305 (OpenSSL): the
 * XChaCha construction is HChaCha20(key, nonce[0..16]) → a subkey, then IETF ChaCha20-Poly1305
 * under that subkey with the nonce 0x00000000 ‖ nonce[16..24]. Only the one-block HChaCha20 step
 * runs in JavaScript (@noble/ciphers), so sealing costs about what AES-GCM does instead of a
 * pure-JS stream cipher and MAC over every byte. The bytes are identical to @noble/ciphers'
 * xchacha20poly1305 (tested both ways), so nodes using either interoperate.
 */
import { createCipheriv, createDecipheriv, getCiphers } from 'node:crypto';
import { hchacha } from '@noble/ciphers/chacha.js';

const TAG = 16;
/** "expand 32-byte k" as little-endian words. */
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

export const nativeChaChaAvailable = getCiphers().includes('chacha20-poly1305');

function words(bytes: Uint8Array, offset: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const o = offset + i * 4;
    out[i] = (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
  }
  return out;
}

function subkeyAndNonce(key: Uint8Array, nonce: Uint8Array): { subkey: Uint8Array; iv: Uint8Array } {
  const out = new Uint32Array(8);
  hchacha(SIGMA, words(key, 0, 8), words(nonce, 0, 4), out);
  const subkey = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const w = out[i]!;
    subkey[i * 4] = w & 0xff;
    subkey[i * 4 + 1] = (w >>> 8) & 0xff;
    subkey[i * 4 + 2] = (w >>> 16) & 0xff;
    subkey[i * 4 + 3] = (w >>> 24) & 0xff;
  }
  const iv = new Uint8Array(12);
  iv.set(nonce.subarray(16, 24), 4);
  return { subkey, iv };
}

export function nativeXChaChaSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const { subkey, iv } = subkeyAndNonce(key, nonce);
  const c = createCipheriv('chacha20-poly1305', subkey, iv, { authTagLength: TAG });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  const out = new Uint8Array(body.length + TAG);
  out.set(body, 0);
  out.set(c.getAuthTag(), body.length);
  return out;
}

/** Throws when the tag does not verify. */
export function nativeXChaChaOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  const { subkey, iv } = subkeyAndNonce(key, nonce);
  const d = createDecipheriv('chacha20-poly1305', subkey, iv, { authTagLength: TAG });
  const bodyLen = sealed.length - TAG;
  d.setAAD(aad, { plaintextLength: bodyLen });
  d.setAuthTag(sealed.subarray(bodyLen));
  const body = d.update(sealed.subarray(0, bodyLen));
  d.final();
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}
