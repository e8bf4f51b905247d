import { describe, expect, it } from 'vitest';
import { GrapevineError } from '@grapevine/core';
import { aes256gcm, createNonceSource, generateKey, xchacha20poly1305 } from '@grapevine/crypto';

const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function distinct(next: () => Uint8Array, n: number, length: number): number {
  const seen = new Set<string>();
  let wrongLength = 0;
  for (let i = 0; i < n; i++) {
    const nonce = next();
    if (nonce.length !== length) wrongLength++;
    seen.add(toHex(nonce));
  }
  expect(wrongLength).toBe(0);
  return seen.size;
}

describe('createNonceSource', () => {
  it('AES-256-GCM: 100,000 nonces are distinct', () => {
    const src = createNonceSource(aes256gcm);
    expect(src.length).toBe(12);
    expect(distinct(() => src.next(), 100_000, 12)).toBe(100_000);
  });

  it('XChaCha20-Poly1305: 100,000 random nonces are distinct', () => {
    const src = createNonceSource(xchacha20poly1305);
    expect(src.length).toBe(24);
    expect(distinct(() => src.next(), 100_000, 24)).toBe(100_000);
  });

  it('GCM nonces are a fixed per-process prefix and a 64-bit big-endian counter', () => {
    const src = createNonceSource(aes256gcm);
    const a = src.next();
    const b = src.next();
    expect(toHex(a.subarray(0, 4))).toBe(toHex(b.subarray(0, 4)));
    const ca = Buffer.from(a).readBigUInt64BE(4);
    const cb = Buffer.from(b).readBigUInt64BE(4);
    expect(cb).toBe((ca + 1n) % 2n ** 64n);
  });

  it('all GCM sources of a process share one counter, so they never collide', () => {
    const s1 = createNonceSource(aes256gcm);
    const s2 = createNonceSource(aes256gcm);
    let i = 0;
    expect(distinct(() => (i++ % 2 === 0 ? s1 : s2).next(), 20_000, 12)).toBe(20_000);
  });

  it('hands out fresh arrays: changing one does not affect the next', () => {
    for (const cipher of [aes256gcm, xchacha20poly1305]) {
      const src = createNonceSource(cipher);
      const a = src.next();
      const copy = Uint8Array.from(a);
      a.fill(0);
      const b = src.next();
      expect(toHex(b)).not.toBe(toHex(copy));
      expect(a.buffer).not.toBe(b.buffer);
    }
  });

  it('seals and opens with its nonces', () => {
    const key = generateKey();
    for (const cipher of [aes256gcm, xchacha20poly1305]) {
      const src = createNonceSource(cipher);
      const nonce = src.next();
      const sealed = cipher.seal(key, nonce, Uint8Array.of(7, 7, 7), new Uint8Array(0));
      expect(cipher.open(key, nonce, sealed, new Uint8Array(0))).toEqual(Uint8Array.of(7, 7, 7));
    }
  });

  it('refuses nonces too short for a safe scheme', () => {
    expect(() => createNonceSource({ name: 'tiny', nonceLength: 8 })).toThrow(GrapevineError);
    expect(() => createNonceSource({ name: 'tiny', nonceLength: 8 })).toThrow(/8-byte nonces/);
  });
});
