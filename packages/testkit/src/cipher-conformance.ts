import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Cipher } from '@grapevine/core';
import { bytesEqual, patternBytes } from './bytes.js';

/**
 * The one round-trip and tamper suite every Cipher passes: sealed messages open to their plaintext
 * under the same key, nonce and aad; any change to any of them (a bit flip, a truncation, an
 * extension, another key) opens to null; garbage opens to null; open never throws.
 */

export interface CipherConformanceOptions {
  /** Runs per property; default 100. */
  numRuns?: number;
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >>> 3] = out[bit >>> 3]! ^ (1 << (bit & 7));
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Calls open and fails the test if it throws; returns what it returned. */
function openSafely(cipher: Cipher, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  try {
    return cipher.open(key, nonce, sealed, aad);
  } catch (err) {
    throw new Error(`open threw instead of returning null: ${String(err)}`);
  }
}

export function cipherConformance(name: string, cipher: Cipher, options: CipherConformanceOptions = {}): void {
  const numRuns = options.numRuns ?? 100;
  const bytesOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
  const arbKey = bytesOf(cipher.keyLength);
  const arbNonce = bytesOf(cipher.nonceLength);
  const arbCase = fc.record({
    key: arbKey,
    nonce: arbNonce,
    plaintext: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 1500 })),
    aad: fc.uint8Array({ maxLength: 48 }),
  });

  describe(`cipher conformance: ${name}`, () => {
    it('describes itself: one-byte id, name, key, nonce and tag lengths', () => {
      expect(Number.isInteger(cipher.id)).toBe(true);
      expect(cipher.id).toBeGreaterThanOrEqual(1);
      expect(cipher.id).toBeLessThanOrEqual(255);
      expect(cipher.name.length).toBeGreaterThan(0);
      expect(cipher.keyLength).toBeGreaterThanOrEqual(16);
      expect(cipher.nonceLength).toBeGreaterThanOrEqual(12);
      expect(cipher.tagLength).toBeGreaterThanOrEqual(12);
    });

    it('round-trips arbitrary plaintext and aad; sealed = ciphertext || tag', () => {
      fc.assert(
        fc.property(arbCase, ({ key, nonce, plaintext, aad }) => {
          const sealed = cipher.seal(key, nonce, plaintext, aad);
          expect(sealed).toBeInstanceOf(Uint8Array);
          expect(sealed.length).toBe(plaintext.length + cipher.tagLength);
          const opened = openSafely(cipher, key, nonce, sealed, aad);
          expect(opened).toBeInstanceOf(Uint8Array);
          expect(bytesEqual(opened!, plaintext)).toBe(true);
        }),
        { numRuns },
      );
    });

    it('round-trips the empty plaintext and authenticates the aad alone', () => {
      const key = patternBytes(cipher.keyLength, 1);
      const nonce = patternBytes(cipher.nonceLength, 2);
      const aad = patternBytes(20, 3);
      const sealed = cipher.seal(key, nonce, new Uint8Array(0), aad);
      expect(sealed.length).toBe(cipher.tagLength);
      expect(openSafely(cipher, key, nonce, sealed, aad)?.length).toBe(0);
      expect(openSafely(cipher, key, nonce, sealed, flipBit(aad, 77))).toBeNull();
      expect(openSafely(cipher, key, nonce, sealed, new Uint8Array(0))).toBeNull();
    });

    it('does not modify its inputs, and hides the plaintext', () => {
      const key = patternBytes(cipher.keyLength, 4);
      const nonce = patternBytes(cipher.nonceLength, 5);
      const plaintext = patternBytes(300, 6);
      const aad = patternBytes(16, 7);
      const copies = [key, nonce, plaintext, aad].map((b) => Uint8Array.from(b));
      const sealed = cipher.seal(key, nonce, plaintext, aad);
      const sealedCopy = Uint8Array.from(sealed);
      cipher.open(key, nonce, sealed, aad);
      [key, nonce, plaintext, aad].forEach((b, i) => expect(bytesEqual(b, copies[i]!)).toBe(true));
      expect(bytesEqual(sealed, sealedCopy)).toBe(true);
      expect(bytesEqual(sealed.subarray(0, plaintext.length), plaintext)).toBe(false);
    });

    it('seals and opens views at any offset into larger buffers', () => {
      fc.assert(
        fc.property(arbCase, fc.nat(7), fc.nat(7), ({ key, nonce, plaintext, aad }, before, after) => {
          const embed = (b: Uint8Array): Uint8Array => {
            const big = new Uint8Array(before + b.length + after).fill(0xa5);
            big.set(b, before);
            return big.subarray(before, before + b.length);
          };
          const sealed = cipher.seal(embed(key), embed(nonce), embed(plaintext), embed(aad));
          expect(bytesEqual(sealed, cipher.seal(key, nonce, plaintext, aad))).toBe(true);
          const opened = openSafely(cipher, embed(key), embed(nonce), embed(sealed), embed(aad));
          expect(opened && bytesEqual(opened, plaintext)).toBe(true);
        }),
        { numRuns: Math.min(numRuns, 50) },
      );
    });

    it('different nonces give different ciphertexts', () => {
      const key = patternBytes(cipher.keyLength, 8);
      const plaintext = patternBytes(64, 9);
      const a = cipher.seal(key, patternBytes(cipher.nonceLength, 10), plaintext, new Uint8Array(0));
      const b = cipher.seal(key, patternBytes(cipher.nonceLength, 11), plaintext, new Uint8Array(0));
      expect(bytesEqual(a, b)).toBe(false);
    });

    it('a single bit flip in the nonce, ciphertext, tag or aad is refused', () => {
      const where = fc.constantFrom('nonce', 'sealed', 'tag', 'aad');
      fc.assert(
        fc.property(arbCase, where, fc.nat(), ({ key, nonce, plaintext, aad }, part, n) => {
          const sealed = cipher.seal(key, nonce, plaintext, aad);
          let args: [Uint8Array, Uint8Array, Uint8Array];
          if (part === 'nonce') args = [flipBit(nonce, n % (nonce.length * 8)), sealed, aad];
          else if (part === 'sealed') args = [nonce, flipBit(sealed, n % (sealed.length * 8)), aad];
          else if (part === 'tag') args = [nonce, flipBit(sealed, (sealed.length - cipher.tagLength) * 8 + (n % (cipher.tagLength * 8))), aad];
          else if (aad.length > 0) args = [nonce, sealed, flipBit(aad, n % (aad.length * 8))];
          else args = [nonce, sealed, Uint8Array.of(n & 0xff)];
          expect(openSafely(cipher, key, ...args)).toBeNull();
        }),
        { numRuns: numRuns * 2 },
      );
    });

    it('every single bit flip of a small message is refused (exhaustive)', () => {
      const key = patternBytes(cipher.keyLength, 12);
      const nonce = patternBytes(cipher.nonceLength, 13);
      const plaintext = patternBytes(24, 14);
      const aad = patternBytes(8, 15);
      const sealed = cipher.seal(key, nonce, plaintext, aad);
      for (let bit = 0; bit < nonce.length * 8; bit++) expect(openSafely(cipher, key, flipBit(nonce, bit), sealed, aad)).toBeNull();
      for (let bit = 0; bit < sealed.length * 8; bit++) expect(openSafely(cipher, key, nonce, flipBit(sealed, bit), aad)).toBeNull();
      for (let bit = 0; bit < aad.length * 8; bit++) expect(openSafely(cipher, key, nonce, sealed, flipBit(aad, bit))).toBeNull();
      for (let bit = 0; bit < key.length * 8; bit++) expect(openSafely(cipher, flipBit(key, bit), nonce, sealed, aad)).toBeNull();
      expect(openSafely(cipher, key, nonce, sealed, aad)).not.toBeNull();
    });

    it('another key is refused', () => {
      fc.assert(
        fc.property(arbCase, arbKey, ({ key, nonce, plaintext, aad }, other) => {
          fc.pre(!bytesEqual(key, other));
          const sealed = cipher.seal(key, nonce, plaintext, aad);
          expect(openSafely(cipher, other, nonce, sealed, aad)).toBeNull();
        }),
        { numRuns },
      );
    });

    it('every truncation and any extension of the sealed bytes is refused', () => {
      fc.assert(
        fc.property(arbCase, fc.uint8Array({ minLength: 1, maxLength: 8 }), ({ key, nonce, plaintext, aad }, extra) => {
          const sealed = cipher.seal(key, nonce, plaintext, aad);
          const step = Math.max(1, Math.floor(sealed.length / 40));
          for (let n = 0; n < sealed.length; n += step) expect(openSafely(cipher, key, nonce, sealed.subarray(0, n), aad)).toBeNull();
          expect(openSafely(cipher, key, nonce, sealed.subarray(0, sealed.length - 1), aad)).toBeNull();
          expect(openSafely(cipher, key, nonce, sealed.subarray(1), aad)).toBeNull();
          expect(openSafely(cipher, key, nonce, concat(sealed, extra), aad)).toBeNull();
        }),
        { numRuns: Math.min(numRuns, 50) },
      );
    });

    it('open refuses a key or nonce of the wrong length; seal throws for one', () => {
      const key = patternBytes(cipher.keyLength, 16);
      const nonce = patternBytes(cipher.nonceLength, 17);
      const sealed = cipher.seal(key, nonce, patternBytes(10, 18), new Uint8Array(0));
      const empty = new Uint8Array(0);
      for (const k of [empty, key.subarray(1), concat(key, Uint8Array.of(0))]) {
        expect(openSafely(cipher, k, nonce, sealed, empty)).toBeNull();
        expect(() => cipher.seal(k, nonce, patternBytes(10, 18), empty)).toThrow();
      }
      for (const n of [empty, nonce.subarray(1), concat(nonce, Uint8Array.of(0))]) {
        expect(openSafely(cipher, key, n, sealed, empty)).toBeNull();
        expect(() => cipher.seal(key, n, patternBytes(10, 18), empty)).toThrow();
      }
    });

    it('arbitrary garbage opens to null and never throws', () => {
      const anyLength = (n: number) => fc.oneof(bytesOf(n), fc.uint8Array({ maxLength: n + 8 }));
      fc.assert(
        fc.property(
          anyLength(cipher.keyLength),
          anyLength(cipher.nonceLength),
          fc.uint8Array({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 32 }),
          (key, nonce, sealed, aad) => {
            expect(openSafely(cipher, key, nonce, sealed, aad)).toBeNull();
          },
        ),
        { numRuns: numRuns * 5 },
      );
    });
  });
}
