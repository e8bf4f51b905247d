/**
 * The OpenSSL-backed XChaCha20-Poly1305 writes exactly the bytes of @noble/ciphers' pure-JS one and
 * opens them, in both directions, for every length and AAD — so nodes on either path interoperate —
 * and refuses any tampering.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { xchacha20poly1305 as noble } from '@noble/ciphers/chacha.js';
import { nativeChaChaAvailable, nativeXChaChaOpen, nativeXChaChaSeal } from '../src/xchacha-native.js';

describe.skipIf(!nativeChaChaAvailable)('native XChaCha20-Poly1305', () => {
  it('matches @noble/ciphers byte for byte, both ways', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 24, maxLength: 24 }),
      fc.uint8Array({ maxLength: 3000 }),
      fc.uint8Array({ maxLength: 64 }),
      (key, nonce, msg, aad) => {
        const a = nativeXChaChaSeal(key, nonce, msg, aad);
        const b = noble(key, nonce, aad).encrypt(msg);
        expect(a).toEqual(b);
        expect(nativeXChaChaOpen(key, nonce, b, aad)).toEqual(msg);
        expect(noble(key, nonce, aad).decrypt(a)).toEqual(msg);
      },
    ), { numRuns: 200 });
  });

  it('refuses a flipped bit anywhere, a wrong AAD and a wrong key', () => {
    const key = new Uint8Array(32).fill(7);
    const nonce = new Uint8Array(24).fill(9);
    const aad = new Uint8Array([1, 2, 3]);
    const sealed = nativeXChaChaSeal(key, nonce, new Uint8Array(100).fill(5), aad);
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice();
      bad[i]! ^= 1;
      expect(() => nativeXChaChaOpen(key, nonce, bad, aad)).toThrow();
    }
    expect(() => nativeXChaChaOpen(key, nonce, sealed, new Uint8Array([1, 2, 4]))).toThrow();
    expect(() => nativeXChaChaOpen(new Uint8Array(32), nonce, sealed, aad)).toThrow();
  });
});
