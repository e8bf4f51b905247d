import { createCipheriv, createDecipheriv } from 'node:crypto';
import { xchacha20poly1305 as nobleXChaCha } from '@noble/ciphers/chacha.js';
import { GrapevineError, type Cipher } from '@grapevine/core';
import { nativeChaChaAvailable, nativeXChaChaOpen, nativeXChaChaSeal } from './xchacha-native.js';

/** Every cipher here takes a 256-bit key. */
export const KEY_LENGTH = 32;
const TAG_LENGTH = 16;

function checkSealArgs(cipher: Cipher, key: Uint8Array, nonce: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== cipher.keyLength) {
    throw new GrapevineError('ERR_INVALID_OPTION', `${cipher.name}: a key must be ${cipher.keyLength} bytes`);
  }
  if (!(nonce instanceof Uint8Array) || nonce.length !== cipher.nonceLength) {
    throw new GrapevineError('ERR_INVALID_OPTION', `${cipher.name}: a nonce must be ${cipher.nonceLength} bytes`);
  }
}

function openable(cipher: Cipher, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): boolean {
  return (
    key instanceof Uint8Array &&
    key.length === cipher.keyLength &&
    nonce instanceof Uint8Array &&
    nonce.length === cipher.nonceLength &&
    sealed instanceof Uint8Array &&
    sealed.length >= cipher.tagLength &&
    aad instanceof Uint8Array
  );
}

/**
 * XChaCha20-Poly1305, cipher id 1, the default. Its 24-byte nonce is large enough to be drawn at
 * random for every message (see nonce.ts). On Node the stream cipher and MAC run in OpenSSL
 * (xchacha-native.ts); where that is missing, @noble/ciphers' pure JavaScript does it all. Both
 * produce the same bytes.
 */
export const xchacha20poly1305: Cipher = {
  id: 1,
  name: 'xchacha20-poly1305',
  keyLength: KEY_LENGTH,
  nonceLength: 24,
  tagLength: TAG_LENGTH,
  seal(key, nonce, plaintext, aad) {
    checkSealArgs(xchacha20poly1305, key, nonce);
    if (nativeChaChaAvailable) return nativeXChaChaSeal(key, nonce, plaintext, aad);
    return nobleXChaCha(key, nonce, aad).encrypt(plaintext);
  },
  open(key, nonce, sealed, aad) {
    if (!openable(xchacha20poly1305, key, nonce, sealed, aad)) return null;
    try {
      if (nativeChaChaAvailable) return nativeXChaChaOpen(key, nonce, sealed, aad);
      return nobleXChaCha(key, nonce, aad).decrypt(sealed);
    } catch {
      return null;
    }
  },
};

/**
 * AES-256-GCM through node:crypto, cipher id 2: faster on Node (AES-NI), Node only. Its 12-byte
 * nonce must never repeat under one key: take nonces from `createNonceSource(aes256gcm)`, never at
 * random (see nonce.ts for the scheme and its bound).
 */
export const aes256gcm: Cipher = {
  id: 2,
  name: 'aes-256-gcm',
  keyLength: KEY_LENGTH,
  nonceLength: 12,
  tagLength: TAG_LENGTH,
  seal(key, nonce, plaintext, aad) {
    checkSealArgs(aes256gcm, key, nonce);
    const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
    c.setAAD(aad);
    const body = c.update(plaintext);
    const rest = c.final(); // empty for GCM, kept for correctness
    const tag = c.getAuthTag();
    const out = new Uint8Array(body.length + rest.length + TAG_LENGTH);
    out.set(body, 0);
    out.set(rest, body.length);
    out.set(tag, body.length + rest.length);
    return out;
  },
  open(key, nonce, sealed, aad) {
    if (!openable(aes256gcm, key, nonce, sealed, aad)) return null;
    try {
      const split = sealed.length - TAG_LENGTH;
      const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
      d.setAuthTag(sealed.subarray(split));
      d.setAAD(aad);
      const body = d.update(sealed.subarray(0, split));
      const rest = d.final(); // throws when the tag does not verify: nothing is released before this
      const out = new Uint8Array(body.length + rest.length);
      out.set(body, 0);
      out.set(rest, body.length);
      return out;
    } catch {
      return null;
    }
  },
};

/** The ciphers of this package, by their envelope id. */
export const ciphers: ReadonlyMap<number, Cipher> = new Map([
  [xchacha20poly1305.id, xchacha20poly1305],
  [aes256gcm.id, aes256gcm],
]);
