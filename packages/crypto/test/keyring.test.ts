import { describe, expect, it } from 'vitest';
import { GrapevineError } from '@grapevine/core';
import { Keyring, aes256gcm, createNonceSource, generateKey, keyId, xchacha20poly1305 } from '@grapevine/crypto';

function expectInvalid(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(GrapevineError);
  expect((caught as GrapevineError).code).toBe('ERR_INVALID_OPTION');
  expect((caught as GrapevineError).message).toMatch(message);
}

/** A key (deterministic, counted up from `start`) whose id equals `id` but whose bytes differ from `not`. */
function keyWithId(id: number, not: Uint8Array, start = 0): Uint8Array {
  for (let n = start; ; n++) {
    const k = new Uint8Array(32);
    new DataView(k.buffer).setUint32(0, n);
    k[31] = 0x5a;
    if (keyId(k) === id && Buffer.compare(k, not) !== 0) return k;
  }
}

const eq = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/** A node: seals with its keyring's primary, opens with whatever key the id names. */
function sealWith(ring: Keyring, plaintext: Uint8Array): { id: number; nonce: Uint8Array; sealed: Uint8Array } {
  const nonce = createNonceSource(aes256gcm).next();
  const { id, key } = ring.primary;
  return { id, nonce, sealed: aes256gcm.seal(key, nonce, plaintext, Uint8Array.of(id)) };
}
function openWith(ring: Keyring, msg: { id: number; nonce: Uint8Array; sealed: Uint8Array }): Uint8Array | null {
  const key = ring.lookup(msg.id);
  return key ? aes256gcm.open(key, msg.nonce, msg.sealed, Uint8Array.of(msg.id)) : null;
}

describe('keyId', () => {
  it('is one byte, stable, and differs between keys', () => {
    const k = generateKey();
    expect(keyId(k)).toBe(keyId(Uint8Array.from(k)));
    expect(Number.isInteger(keyId(k)) && keyId(k) >= 0 && keyId(k) <= 255).toBe(true);
    const ids = new Set(Array.from({ length: 200 }, () => keyId(generateKey())));
    expect(ids.size).toBeGreaterThan(100);
  });

  it('refuses a key of the wrong length', () => {
    expectInvalid(() => keyId(new Uint8Array(16)), /32 bytes, got 16/);
  });
});

describe('Keyring', () => {
  it('the first key is the primary; every installed key can be looked up by id', () => {
    const [a, b, c] = [generateKey(), generateKey(), generateKey()];
    fixIds([a, b, c]);
    const ring = new Keyring([a, b, c]);
    expect(ring.size).toBe(3);
    expect(eq(ring.primary.key, a)).toBe(true);
    expect(ring.primary.id).toBe(keyId(a));
    for (const k of [a, b, c]) expect(eq(ring.lookup(keyId(k))!, k)).toBe(true);
    expect(ring.keys().map((k) => Buffer.from(k).toString('hex'))).toEqual([a, b, c].map((k) => Buffer.from(k).toString('hex')));
  });

  it('keeps its own copies of the keys', () => {
    const a = generateKey();
    const original = Uint8Array.from(a);
    const ring = new Keyring([a]);
    a.fill(0);
    expect(eq(ring.primary.key, original)).toBe(true);
    ring.keys()[0]!.fill(1);
    expect(eq(ring.primary.key, original)).toBe(true);
  });

  it('rotates: install → use → remove, and messages keep opening at every step', () => {
    const oldKey = generateKey();
    const newKey = keyWithId((keyId(oldKey) + 1) % 256, oldKey);
    // Three nodes, all on the old key.
    const nodes = [new Keyring([oldKey]), new Keyring([oldKey]), new Keyring([oldKey])];
    const everyoneOpensEveryone = (): boolean =>
      nodes.every((from) => nodes.every((to) => eq(openWith(to, sealWith(from, Uint8Array.of(1, 2, 3)))!, Uint8Array.of(1, 2, 3))));
    expect(everyoneOpensEveryone()).toBe(true);

    // 1. Install the new key everywhere (still sealing with the old one).
    nodes.forEach((n, i) => {
      n.install(newKey);
      expect(eq(n.primary.key, oldKey)).toBe(true);
      if (i === 0) expect(everyoneOpensEveryone()).toBe(true);
    });
    expect(everyoneOpensEveryone()).toBe(true);

    // 2. Use it, one node at a time: mixed primaries still interoperate.
    for (const n of nodes) {
      n.use(newKey);
      expect(n.primary.id).toBe(keyId(newKey));
      expect(everyoneOpensEveryone()).toBe(true);
    }

    // 3. Remove the old key everywhere.
    const oldMessage = sealWith(new Keyring([oldKey]), Uint8Array.of(9));
    for (const n of nodes) {
      expect(n.remove(oldKey)).toBe(true);
      expect(everyoneOpensEveryone()).toBe(true);
      expect(openWith(n, oldMessage)).toBeNull();
      expect(n.keys().length).toBe(1);
    }
  });

  it('install is idempotent and use/remove of an unknown key are reported', () => {
    const [a, b] = [generateKey(), generateKey()];
    fixIds([a, b]);
    const ring = new Keyring([a, a]);
    expect(ring.size).toBe(1);
    const e1 = ring.install(b);
    const e2 = ring.install(Uint8Array.from(b));
    expect(e1).toBe(e2);
    expect(ring.size).toBe(2);
    expect(ring.has(b)).toBe(true);
    const c = keyWithId((keyId(a) + 100) % 256, a);
    fixIds([a, b, c]);
    expectInvalid(() => ring.use(c), /not installed/);
    expect(ring.remove(c)).toBe(false);
  });

  it('refuses to remove the primary', () => {
    const [a, b] = [generateKey(), generateKey()];
    fixIds([a, b]);
    const ring = new Keyring([a, b]);
    expectInvalid(() => ring.remove(a), /primary/);
    ring.use(b);
    expect(ring.remove(a)).toBe(true);
    expectInvalid(() => ring.remove(b), /primary/);
  });

  it('refuses a key whose id collides with an installed key, in install and in the constructor', () => {
    const a = generateKey();
    const twin = keyWithId(keyId(a), a);
    const ring = new Keyring([a]);
    expectInvalid(() => ring.install(twin), /key id 0x[0-9a-f]{2} .*collides.*generate another key/);
    expect(ring.size).toBe(1);
    expect(ring.lookup(keyId(a))).toEqual(a);
    expectInvalid(() => new Keyring([a, twin]), /collides/);
    // A key that is not installed but shares an id is not "installed".
    expect(ring.has(twin)).toBe(false);
    expect(ring.remove(twin)).toBe(false);
    expectInvalid(() => ring.use(twin), /not installed/);
  });

  it('refuses empty keyrings and keys of the wrong length', () => {
    expectInvalid(() => new Keyring([]), /at least one key/);
    expectInvalid(() => new Keyring([new Uint8Array(16)]), /32 bytes, got 16/);
    const ring = new Keyring([generateKey()]);
    expectInvalid(() => ring.install(new Uint8Array(33)), /32 bytes, got 33/);
    expectInvalid(() => ring.use(new Uint8Array(0)), /32 bytes, got 0/);
    expectInvalid(() => ring.remove(new Uint8Array(31)), /32 bytes, got 31/);
    expectInvalid(() => ring.install('key' as unknown as Uint8Array), /Uint8Array/);
  });

  it('lookup of an unknown id is undefined', () => {
    const a = generateKey();
    const ring = new Keyring([a]);
    expect(ring.lookup((keyId(a) + 1) % 256)).toBeUndefined();
    expect(ring.lookup(-1)).toBeUndefined();
    expect(ring.lookup(256)).toBeUndefined();
  });

  it('works with XChaCha20-Poly1305 as well', () => {
    const ring = new Keyring([generateKey()]);
    const nonce = createNonceSource(xchacha20poly1305).next();
    const sealed = xchacha20poly1305.seal(ring.primary.key, nonce, Uint8Array.of(5), new Uint8Array(0));
    expect(xchacha20poly1305.open(ring.lookup(ring.primary.id)!, nonce, sealed, new Uint8Array(0))).toEqual(Uint8Array.of(5));
  });
});

/** Random keys collide with probability 1/256 per pair; replace later keys until all ids differ. */
function fixIds(keys: Uint8Array[]): void {
  for (let i = 1; i < keys.length; i++) {
    while (keys.slice(0, i).some((k) => keyId(k) === keyId(keys[i]!))) keys[i]!.set(generateKey());
  }
}
