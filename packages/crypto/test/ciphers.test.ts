import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gcm } from '@noble/ciphers/aes.js';
import { cipherConformance } from '@grapevine/testkit';
import { GrapevineError } from '@grapevine/core';
import { aes256gcm, ciphers, createNonceSource, generateKey, xchacha20poly1305 } from '@grapevine/crypto';

cipherConformance('xchacha20-poly1305', xchacha20poly1305);
cipherConformance('aes-256-gcm', aes256gcm);

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('ciphers', () => {
  it('have the envelope ids 1 and 2 and the expected sizes', () => {
    expect([xchacha20poly1305.id, xchacha20poly1305.keyLength, xchacha20poly1305.nonceLength, xchacha20poly1305.tagLength]).toEqual([1, 32, 24, 16]);
    expect([aes256gcm.id, aes256gcm.keyLength, aes256gcm.nonceLength, aes256gcm.tagLength]).toEqual([2, 32, 12, 16]);
    expect(ciphers.get(1)).toBe(xchacha20poly1305);
    expect(ciphers.get(2)).toBe(aes256gcm);
  });

  it('XChaCha20-Poly1305 matches the draft-irtf-cfrg-xchacha test vector (A.3.1)', () => {
    const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = hex('404142434445464748494a4b4c4d4e4f5051525354555657');
    const aad = hex('50515253c0c1c2c3c4c5c6c7');
    const plaintext = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const expected =
      'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e' +
      'c0875924c1c7987947deafd8780acf49';
    const sealed = xchacha20poly1305.seal(key, nonce, plaintext, aad);
    expect(toHex(sealed)).toBe(expected);
    expect(xchacha20poly1305.open(key, nonce, sealed, aad)).toEqual(plaintext);
  });

  it('AES-256-GCM matches the GCM specification test cases 13 and 14', () => {
    const key = new Uint8Array(32);
    const nonce = new Uint8Array(12);
    const empty = new Uint8Array(0);
    expect(toHex(aes256gcm.seal(key, nonce, empty, empty))).toBe('530f8afbc74536b9a963b4f1c4cb738b');
    expect(toHex(aes256gcm.seal(key, nonce, new Uint8Array(16), empty))).toBe(
      'cea7403d4d606b6e074ec5d3baf39d18' + 'd0d1c8a799996bf0265b98b5d48ab919',
    );
  });

  it('AES-256-GCM through node:crypto agrees with an independent implementation (@noble/ciphers gcm)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ maxLength: 40 }),
        (key, nonce, plaintext, aad) => {
          const ours = aes256gcm.seal(key, nonce, plaintext, aad);
          expect(toHex(ours)).toBe(toHex(gcm(key, nonce, aad).encrypt(plaintext)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('returns plain Uint8Arrays (not Node Buffers) that own their memory', () => {
    const key = generateKey();
    for (const cipher of [xchacha20poly1305, aes256gcm]) {
      const nonce = createNonceSource(cipher).next();
      const sealed = cipher.seal(key, nonce, Uint8Array.of(1, 2, 3), new Uint8Array(0));
      const opened = cipher.open(key, nonce, sealed, new Uint8Array(0))!;
      for (const b of [sealed, opened]) {
        expect(Buffer.isBuffer(b)).toBe(false);
        expect(b.byteOffset).toBe(0);
        expect(b.buffer.byteLength).toBe(b.byteLength);
      }
    }
  });

  it('a message sealed by one cipher does not open under the other', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 24 }), (key, plaintext, aad) => {
        const xn = createNonceSource(xchacha20poly1305).next();
        const gn = createNonceSource(aes256gcm).next();
        const x = xchacha20poly1305.seal(key, xn, plaintext, aad);
        const g = aes256gcm.seal(key, gn, plaintext, aad);
        // The same key, each with a nonce of the other's length and with its own nonce's prefix.
        expect(aes256gcm.open(key, gn, x, aad)).toBeNull();
        expect(aes256gcm.open(key, xn.subarray(0, 12), x, aad)).toBeNull();
        expect(xchacha20poly1305.open(key, xn, g, aad)).toBeNull();
        const padded = new Uint8Array(24);
        padded.set(gn);
        expect(xchacha20poly1305.open(key, padded, g, aad)).toBeNull();
      }),
      { numRuns: 100 },
    );
  });

  it('seal refuses a bad key or nonce with ERR_INVALID_OPTION', () => {
    for (const cipher of [xchacha20poly1305, aes256gcm]) {
      const nonce = new Uint8Array(cipher.nonceLength);
      const err = (() => {
        try {
          cipher.seal(new Uint8Array(16), nonce, new Uint8Array(1), new Uint8Array(0));
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(GrapevineError);
      expect((err as GrapevineError).code).toBe('ERR_INVALID_OPTION');
      expect((err as GrapevineError).message).toMatch(/32 bytes/);
    }
  });

  it('open returns null (never throws) for inputs of the wrong type', () => {
    const bad = [undefined, null, 'x', 42, [1, 2, 3], new Uint16Array(16)] as unknown as Uint8Array[];
    for (const cipher of [xchacha20poly1305, aes256gcm]) {
      const key = new Uint8Array(32);
      const nonce = new Uint8Array(cipher.nonceLength);
      const sealed = cipher.seal(key, nonce, new Uint8Array(4), new Uint8Array(0));
      for (const b of bad) {
        expect(cipher.open(b, nonce, sealed, new Uint8Array(0))).toBeNull();
        expect(cipher.open(key, b, sealed, new Uint8Array(0))).toBeNull();
        expect(cipher.open(key, nonce, b, new Uint8Array(0))).toBeNull();
        expect(cipher.open(key, nonce, sealed, b)).toBeNull();
      }
    }
  });
});
