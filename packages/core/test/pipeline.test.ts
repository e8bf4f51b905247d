import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultLimits, WirePipeline, type EncryptionOptions, type PipelineOptions } from '@grapevine/core';
import { aes256gcm, createNonceSource, generateKey, keyId, Keyring, xchacha20poly1305 } from '@grapevine/crypto';
import { snappyCompressor } from '@grapevine/compress-snappy';
import { ManualClock } from './fake-clock.js';

const clock = new ManualClock();

function pipeline(extra: Partial<PipelineOptions> = {}): WirePipeline {
  return new WirePipeline({ codecId: 2, clock, limits: defaultLimits, compressThreshold: 256, ...extra });
}

function sealing(keys: Uint8Array[], cipher = xchacha20poly1305): EncryptionOptions & { keyring: Keyring } {
  const nonces = createNonceSource(cipher);
  return { cipher, keyring: new Keyring(keys), nextNonce: () => nonces.next(), maxClockSkew: 30_000, replayCacheSize: 1000 };
}

const partsArb = fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { minLength: 1, maxLength: 8 });

describe('wire pipeline', () => {
  it('round-trips every combination of label, compression and each cipher', () => {
    const key = generateKey();
    for (const cipher of [undefined, xchacha20poly1305, aes256gcm]) {
      for (const compressor of [undefined, snappyCompressor]) {
        for (const label of [undefined, 'prod-eu']) {
          const enc = cipher && sealing([key], cipher);
          const a = pipeline({ label, compressor, encryption: enc });
          const b = pipeline({ label, compressor, encryption: enc && { ...enc, keyring: new Keyring([key]) } });
          fc.assert(fc.property(partsArb, (parts) => {
            const out = b.open(a.seal(parts));
            expect(typeof out).toBe('object');
            expect((out as { parts: Uint8Array[] }).parts.map((p) => [...p])).toEqual(parts.map((p) => [...p]));
          }), { numRuns: 40 });
        }
      }
    }
  });

  it('compresses only above the threshold and only when it shrinks the body', () => {
    const p = pipeline({ compressor: snappyCompressor });
    const small = p.seal([new Uint8Array(100).fill(7)]);
    const big = p.seal([new Uint8Array(5000).fill(7)]);
    const random = p.seal([crypto.getRandomValues(new Uint8Array(1000))]);
    expect(small[1]! & 0x02).toBe(0);
    expect(big[1]! & 0x02).toBe(0x02);
    expect(big.length).toBeLessThan(500);
    expect(random[1]! & 0x02).toBe(0);
  });

  it('drops another cluster label, a missing label, and a label where none is expected', () => {
    const data = [new Uint8Array([1, 2, 3])];
    expect(pipeline({ label: 'a' }).open(pipeline({ label: 'b' }).seal(data))).toBe('wrong-label');
    expect(pipeline({ label: 'a' }).open(pipeline().seal(data))).toBe('wrong-label');
    expect(pipeline().open(pipeline({ label: 'a' }).seal(data))).toBe('wrong-label');
  });

  it('binds the label into the AEAD: rewriting the label of a sealed packet fails authentication', () => {
    const key = generateKey();
    const sealed = pipeline({ label: 'aaaa', encryption: sealing([key]) }).seal([new Uint8Array([9])]);
    const forged = sealed.slice();
    forged.set(new TextEncoder().encode('bbbb'), 4);
    expect(pipeline({ label: 'bbbb', encryption: sealing([key]) }).open(forged)).toBe('auth-failed');
  });

  it('refuses wrong keys, unsealed packets, truncated tags and any flipped bit, without throwing', () => {
    const key = generateKey();
    const a = pipeline({ encryption: sealing([key]) });
    const b = pipeline({ encryption: sealing([key]) });
    const other = pipeline({ encryption: sealing([generateKey()]) });
    const sealed = a.seal([new Uint8Array(50).fill(1)]);
    expect(['unknown-key', 'auth-failed']).toContain(other.open(sealed));
    expect(b.open(pipeline().seal([new Uint8Array([1])]))).toBe('not-encrypted');
    expect(b.open(sealed.subarray(0, sealed.length - 1))).toBe('auth-failed');
    expect(b.open(sealed.subarray(0, 20))).toBe('truncated');
    for (let i = 0; i < sealed.length * 8; i++) {
      const bad = sealed.slice();
      bad[i >> 3]! ^= 1 << (i & 7);
      expect(typeof b.open(bad)).toBe('string');
    }
  });

  it('never throws on arbitrary bytes or mutations of sealed, compressed, labelled envelopes', () => {
    const key = generateKey();
    const opts = { label: 'x', compressor: snappyCompressor };
    const a = pipeline({ ...opts, encryption: sealing([key]) });
    const b = pipeline({ ...opts, encryption: sealing([key]) });
    const plain = pipeline(opts);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
      b.open(bytes);
      plain.open(bytes);
    }), { numRuns: 2000 });
    fc.assert(fc.property(partsArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (parts, at, v) => {
      for (const sealed of [a.seal(parts), plain.seal(parts)]) {
        const bad = sealed.slice();
        bad[at % bad.length] = v;
        b.open(bad);
        plain.open(bad);
        plain.open(sealed.subarray(0, at % sealed.length));
      }
    }), { numRuns: 500 });
  });

  it('refuses a replayed packet, and one sealed further than the clock skew away', () => {
    const key = generateKey();
    const a = pipeline({ encryption: sealing([key]) });
    const b = pipeline({ encryption: sealing([key]) });
    const sealed = a.seal([new Uint8Array([5])]);
    expect(typeof b.open(sealed)).toBe('object');
    expect(b.open(sealed)).toBe('replay');
    const later = a.seal([new Uint8Array([6])]);
    clock.t += 31_000;
    expect(b.open(later)).toBe('stale');
    expect(b.open(sealed)).toBe('stale');
  });

  it('rotates keys: install, promote, retire, with the old key refused once removed', () => {
    const k1 = generateKey();
    let k2 = generateKey();
    while (keyId(k2) === keyId(k1)) k2 = generateKey(); // one-byte key ids: 1 in 256 collide
    const a = sealing([k1]);
    const b = sealing([k1]);
    const pa = pipeline({ encryption: a });
    const pb = pipeline({ encryption: b });
    const msg = [new Uint8Array([1])];
    expect(typeof pb.open(pa.seal(msg))).toBe('object');
    b.keyring.install(k2);
    a.keyring.install(k2);
    a.keyring.use(k2);
    expect(typeof pb.open(pa.seal(msg))).toBe('object');
    const oldSealed = pipeline({ encryption: sealing([k1]) }).seal(msg);
    b.keyring.use(k2);
    b.keyring.remove(k1);
    expect(pb.open(oldSealed)).toBe('unknown-key');
    expect(typeof pb.open(pa.seal(msg))).toBe('object');
  });

  it('refuses a compression bomb instead of inflating it', () => {
    const p = pipeline({ compressor: snappyCompressor });
    // flags: compressed; body: compressor id 1, snappy preamble claiming 2^31 - 1 bytes.
    const bomb = new Uint8Array([1, 0x02, 2, 1, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00]);
    expect(p.open(bomb)).toBe('decompress');
  });
});
