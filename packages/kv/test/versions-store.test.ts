/**
 * Version order (a total order), and the replica store's rules: last writer wins whatever the
 * arrival order, tombstones beat older values and are purged only at their exact version, TTL
 * expiry turns a value into a tombstone of the same version, and the memory budget evicts LRU values
 * (counted) and refuses what cannot fit.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareVersions, KvError, loadHasher, ReplicaStore, type Hasher, type KvRecord } from '../src/index.js';

let hasher: Hasher;
beforeAll(async () => {
  hasher = await loadHasher();
});

const version = fc.record({ ts: fc.integer({ min: 0, max: 2 ** 40 }), node: fc.constantFrom('a', 'b', 'c', 'node-10') });
const store = (max = 1 << 20): ReplicaStore => new ReplicaStore(hasher, 64, (k) => hasher.str(k) % 64, max, 32);

describe('versions', () => {
  it('form a total order: antisymmetric, transitive, equal only when identical', () => {
    fc.assert(
      fc.property(version, version, version, (a, b, c) => {
        // Opposite signs (a sum, not toBe(-x): Object.is tells 0 from -0 when a and b are equal).
        expect(Math.sign(compareVersions(a, b)) + Math.sign(compareVersions(b, a))).toBe(0);
        if (compareVersions(a, b) === 0) expect(a).toEqual(b);
        if (compareVersions(a, b) < 0 && compareVersions(b, c) < 0) expect(compareVersions(a, c)).toBeLessThan(0);
      }),
    );
  });
});

describe('replica store', () => {
  const rec = (key: string, v: { ts: number; node: string }, value: number | null, exp = 0): KvRecord => ({ key, ts: v.ts, node: v.node, value: value === null ? null : new Uint8Array([value]), exp });

  it('converges to the newest version whatever order the records arrive in (deletes included)', () => {
    fc.assert(
      // One value per version: a node never writes two values under one (ts, node), and two records
      // that share a version but differ in value would make "the newest" ambiguous (fast-check once
      // drew a tombstone and a value at the same version, and the test, not the store, was wrong).
      fc.property(fc.uniqueArray(fc.tuple(version, fc.option(fc.integer({ min: 0, max: 255 }))), { minLength: 1, maxLength: 20, selector: ([v]) => `${v.ts}/${v.node}` }), (ops) => {
        const records = ops.map(([v, val]) => rec('k', v, val));
        const newest = [...records].sort(compareVersions).at(-1)!;
        const s1 = store();
        const s2 = store();
        for (const r of records) s1.apply(r, 0);
        for (const r of [...records].reverse()) s2.apply(r, 0);
        for (const s of [s1, s2]) {
          const got = s.getRecord('k', 0)!;
          expect(compareVersions(got, newest)).toBe(0);
          expect(got.value).toEqual(newest.value);
        }
        expect(s1.digest(hasher.str('k') % 64)).toBe(s2.digest(hasher.str('k') % 64));
      }),
    );
  });

  it('a tombstone keeps an older value out and is purged only at its exact version', () => {
    const s = store();
    s.apply(rec('k', { ts: 10, node: 'a' }, null), 0);
    expect(s.apply(rec('k', { ts: 9, node: 'z' }, 1), 0)).toBe('stale');
    expect(s.getRecord('k', 0)!.value).toBeNull();
    expect(s.purgeTombstone('k', 10, 'b')).toBe(false);
    s.apply(rec('k', { ts: 11, node: 'a' }, 2), 0);
    expect(s.purgeTombstone('k', 10, 'a')).toBe(false); // a newer value is not a tombstone to purge
    s.apply(rec('k', { ts: 12, node: 'a' }, null), 0);
    expect(s.purgeTombstone('k', 12, 'a')).toBe(true);
    expect(s.getRecord('k', 0)).toBeUndefined();
    expect(s.stats().tombstones).toBe(0);
  });

  it('expiry travels with the value and becomes a tombstone of the same version', () => {
    const s = store();
    s.apply(rec('k', { ts: 5, node: 'a' }, 7, 1000), 0);
    expect(s.getRecord('k', 999)!.value).toEqual(new Uint8Array([7]));
    const r = s.getRecord('k', 1000)!;
    expect(r.value).toBeNull();
    expect(compareVersions(r, { ts: 5, node: 'a' })).toBe(0);
    expect(s.apply(rec('k', { ts: 5, node: 'a' }, 7, 1000), 2000)).toBe('stale'); // the same copy again stays dead
    // A record that arrives already expired is stored as a tombstone.
    s.apply(rec('j', { ts: 5, node: 'a' }, 7, 10), 20);
    expect(s.getRecord('j', 20)!.value).toBeNull();
  });

  it('evicts least recently used values past maxBytes, counts them, and refuses what cannot fit', () => {
    const s = store(2048);
    const big = (key: string, ts: number): KvRecord => ({ key, ts, node: 'a', value: new Uint8Array(300), exp: 0 });
    for (let i = 0; i < 5; i++) s.apply(big(`k${i}`, i + 1), 0);
    s.getRecord('k0', 0); // k0 is now the most recently used
    for (let i = 5; i < 8; i++) s.apply(big(`k${i}`, i + 1), 0);
    expect(s.stats().bytes).toBeLessThanOrEqual(2048);
    expect(s.stats().evictions).toBeGreaterThan(0);
    expect(s.getRecord('k0', 0)).toBeDefined();
    expect(s.getRecord('k1', 0)).toBeUndefined(); // evicted: a miss, never a stale value
    expect(() => s.apply({ key: 'huge', ts: 99, node: 'a', value: new Uint8Array(4096), exp: 0 }, 0)).toThrow(KvError);
    // Tombstones are never evicted: a store full of them refuses new values.
    const t = store(1024);
    for (let i = 0; t.stats().bytes + 200 < 1024; i++) t.apply({ key: `d${i}`, ts: i + 1, node: 'a', value: null, exp: 0 }, 0);
    expect(() => t.apply({ key: 'v', ts: 1e6, node: 'a', value: new Uint8Array(300), exp: 0 }, 0)).toThrow(expect.objectContaining({ code: 'ERR_KV_FULL' }));
    expect(t.stats().refused).toBe(1);
  });
});
