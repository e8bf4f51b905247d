/** createCluster's `keys` / `cipher` / `compress` / `label` options, and the agent's key-file reload. */
import { describe, expect, it } from 'vitest';
import { createCluster, createKeyring, generateKey, keyId, snappyCompressor, wireOptions, Keyring, xchacha20poly1305, aes256gcm } from '@grapevine/node';
import { applyKeys, keyringChanged } from '../src/key-reload.js';

/** Random keys with different key ids: ids are one byte, so two random keys collide 1 time in 256. */
function distinctKeys(n: number): Uint8Array[] {
  const keys: Uint8Array[] = [];
  while (keys.length < n) {
    const k = generateKey();
    if (!keys.some((o) => keyId(o) === keyId(k))) keys.push(k);
  }
  return keys;
}

describe('createCluster wire options', () => {
  it('builds encryption from keys (xchacha20-poly1305 by default) and a compressor from compress', () => {
    const k = generateKey();
    const w = wireOptions({ keys: [k], compress: 'snappy' });
    expect(w.compressor).toBe(snappyCompressor);
    expect(w.encryption!.cipher).toBe(xchacha20poly1305);
    expect(w.encryption!.keyring.primary.id).toBe(keyId(k));
    expect(w.encryption!.nextNonce()).toHaveLength(24);
    expect(w.encryption!.nextNonce()).not.toEqual(w.encryption!.nextNonce());
    const gcm = wireOptions({ keys: [k], cipher: 'aes-256-gcm' });
    expect(gcm.encryption!.cipher).toBe(aes256gcm);
    expect(gcm.encryption!.nextNonce()).toHaveLength(12);
    expect(wireOptions({})).toEqual({});
    expect(wireOptions({ compress: 'none' })).toEqual({});
  });

  it('uses a Keyring it is given, so the caller can rotate keys on the running node', () => {
    const ring = createKeyring(distinctKeys(2));
    expect(ring).toBeInstanceOf(Keyring);
    expect(wireOptions({ keys: ring }).encryption!.keyring).toBe(ring);
  });

  it('rejects bad combinations before binding anything', async () => {
    const k = generateKey();
    const bad: [Parameters<typeof wireOptions>[0], RegExp][] = [
      [{ keys: [] }, /at least one key/],
      [{ keys: [new Uint8Array(16)] }, /32 bytes/],
      [{ cipher: 'aes-256-gcm' }, /cipher needs keys/],
      [{ keys: [k], cipher: 'rot13' as never }, /option cipher must be/],
      [{ compress: 'gzip' as never }, /option compress must be/],
      [{ compress: 'snappy', compressor: snappyCompressor }, /either compress or compressor/],
      [{ keys: [k], encryption: wireOptions({ keys: [k] }).encryption! }, /either keys or encryption/],
      [{ keys: 'secret' as never }, /array of 32-byte keys or a Keyring/],
      [{ label: 'x'.repeat(256) }, /at most 255 bytes/],
    ];
    for (const [opts, message] of bad) {
      expect(() => wireOptions(opts)).toThrow(message);
      await expect(createCluster({ bind: '127.0.0.1:0', name: 'n', ...opts })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    }
  });
});

describe('applyKeys (SIGHUP reload)', () => {
  const [k1, k2, k3] = distinctKeys(3);

  it('installs new keys, makes the first primary, removes the rest, and reports it by key id', () => {
    const ring = new Keyring([k1]);
    expect(applyKeys(ring, [k1, k2])).toEqual({ installed: [keyId(k2)], removed: [] });
    expect(ring.primary.id).toBe(keyId(k1));
    expect(applyKeys(ring, [k2, k1])).toEqual({ installed: [], primary: { from: keyId(k1), to: keyId(k2) }, removed: [] });
    const c = applyKeys(ring, [k2]);
    expect(c).toEqual({ installed: [], removed: [keyId(k1)] });
    expect(ring.keys().map((k) => keyId(k))).toEqual([keyId(k2)]);
    expect(keyringChanged(applyKeys(ring, [k2]))).toBe(false);
    // All in one step also works (a node that missed the intermediate reloads).
    expect(applyKeys(ring, [k3])).toEqual({ installed: [keyId(k3)], primary: { from: keyId(k2), to: keyId(k3) }, removed: [keyId(k2)] });
  });

  it('changes nothing when a new key collides with an installed key id', () => {
    let clash = generateKey();
    while (keyId(clash) !== keyId(k1)) clash = generateKey(); // ~256 tries
    const ring = new Keyring([k1, k2]);
    expect(() => applyKeys(ring, [k2, k3, clash])).toThrow(/id of an installed key/);
    expect(ring.keys().map((k) => keyId(k))).toEqual([keyId(k1), keyId(k2)]);
    expect(() => applyKeys(ring, [])).toThrow(/no keys/);
  });
});
