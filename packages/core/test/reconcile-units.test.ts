/**
 * Set reconciliation's pieces: the per-bucket sums kept beside the view digest (O(1) updates equal
 * a rebuild, any order gives the same sums, folding to fewer buckets equals keeping fewer), the
 * bucket count, and the wire messages' checks against bad input.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ViewDigest, bucketOf, defaultLimits, foldSums, parseMessage, reconcileBuckets, toWire, viewMemberHash,
  type MemberRecord, type MemberState,
} from '@grapevine/core';

function rec(name: string, incarnation = 0, state: MemberState = 'alive', instance = 1): MemberRecord {
  return { name, address: `${name}:1`, state, incarnation, instance, meta: {}, metaVersion: 0, stateChangedAt: 0, protocol: 1, appVersion: '' };
}

/** Bucket sums computed the plain way: every live member's hash added into its bucket. */
function plainSums(records: readonly MemberRecord[], b: number): number[] {
  const out = new Array<number>(b).fill(0);
  for (const r of records) {
    if (r.state !== 'alive' && r.state !== 'suspect') continue;
    const h = viewMemberHash(r.name, r.instance, r.incarnation);
    const i = bucketOf(h, b);
    out[i] = (out[i]! + h) >>> 0;
  }
  return out;
}

const change = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'node-1', 'node-2', 'ü'),
  inc: fc.nat(5),
  state: fc.constantFrom<MemberState>('alive', 'suspect', 'dead', 'left'),
  gone: fc.boolean(),
});

describe('view digest bucket sums', () => {
  it('kept one change at a time equal the sums computed from the final table, at every resolution', () => {
    fc.assert(fc.property(fc.array(change, { maxLength: 80 }), fc.constantFrom(1, 2, 16, 256), (changes, leaves) => {
      const d = new ViewDigest(leaves);
      const table = new Map<string, MemberRecord>();
      for (const c of changes) {
        if (c.gone) table.delete(c.name);
        else table.set(c.name, rec(c.name, c.inc, c.state));
        d.update(c.name, table.get(c.name));
      }
      const final = [...table.values()];
      for (let b = 1; b <= leaves; b *= 2) expect(Array.from(d.bucketSums(b))).toEqual(plainSums(final, b));
      // The buckets together are the whole view: the one-bucket sum is the digest.
      expect(d.bucketSums(1)[0]).toBe(d.value);
      const rebuilt = new ViewDigest(leaves);
      expect(rebuilt.rebuild(final)).toBe(final.some((r) => r.state === 'alive' || r.state === 'suspect'));
      expect(Array.from(rebuilt.bucketSums(leaves))).toEqual(Array.from(d.bucketSums(leaves)));
      expect(d.rebuild(final)).toBe(false); // nothing drifted
    }));
  });

  it('kept at a resolution that grows with the view equal those kept at the finest from the start', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(600), fc.nat(3), fc.boolean()), { maxLength: 900 }), (ops) => {
      const growing = new ViewDigest(256, undefined, 4);
      const fixed = new ViewDigest(256);
      for (const [i, inc, gone] of ops) {
        const r = gone ? undefined : rec(`m${i}`, inc);
        growing.update(`m${i}`, r);
        fixed.update(`m${i}`, r);
        expect(growing.leafCount).toBeGreaterThanOrEqual(Math.min(256, growing.size));
      }
      expect(growing.value).toBe(fixed.value);
      for (let b = 1; b <= growing.leafCount; b *= 2) expect(Array.from(growing.bucketSums(b))).toEqual(Array.from(fixed.bucketSums(b)));
    }), { numRuns: 40 });
  });

  it('do not depend on the order members were learned in', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 40 }), fc.nat(), (names, salt) => {
      const a = new ViewDigest(64);
      const b = new ViewDigest(64);
      const shuffled = [...names].sort((x, y) => ((viewMemberHash(x, salt, 0) ^ salt) >>> 0) - ((viewMemberHash(y, salt, 0) ^ salt) >>> 0));
      for (const n of names) a.update(n, rec(n, salt % 3));
      for (const n of shuffled) b.update(n, rec(n, salt % 3));
      expect(Array.from(a.bucketSums(64))).toEqual(Array.from(b.bucketSums(64)));
    }));
  });

  it('one member more differs in exactly one bucket, the one its hash names', () => {
    const a = new ViewDigest(256);
    const b = new ViewDigest(256);
    for (let i = 0; i < 500; i++) {
      a.update(`n${i}`, rec(`n${i}`));
      b.update(`n${i}`, rec(`n${i}`));
    }
    b.update('extra', rec('extra'));
    const sa = a.bucketSums(64);
    const sb = b.bucketSums(64);
    const differing = [...sa.keys()].filter((i) => sa[i] !== sb[i]);
    expect(differing).toEqual([bucketOf(viewMemberHash('extra', 1, 0), 64)]);
    const names: string[] = [];
    const flagged = new Uint8Array(64);
    flagged[differing[0]!] = 1;
    b.forEachIn(64, flagged, (n) => names.push(n) > 0);
    expect(names).toContain('extra');
    expect(names.length).toBeLessThan(30); // a bucket's worth, not the view
  });

  it('fold: sums over fewer buckets are the sums of adjacent finer ones', () => {
    expect(Array.from(foldSums([1, 2, 3, 4], 2))).toEqual([3, 7]);
    expect(Array.from(foldSums([0xffffffff, 2], 1))).toEqual([1]); // modulo 2^32
    expect(() => foldSums([1, 2], 4)).toThrow(RangeError);
    expect(() => foldSums([1, 2, 3, 4], 3)).toThrow(RangeError);
    expect(() => new ViewDigest(1000)).toThrow(RangeError);
  });

  it('bucket count: the next power of two at or above N / per-bucket, within [1, max]', () => {
    expect(reconcileBuckets(0, 16, 1024)).toBe(1);
    expect(reconcileBuckets(16, 16, 1024)).toBe(1);
    expect(reconcileBuckets(17, 16, 1024)).toBe(2);
    expect(reconcileBuckets(1000, 16, 1024)).toBe(64);
    expect(reconcileBuckets(10_000, 16, 1024)).toBe(1024);
    expect(reconcileBuckets(100_000, 16, 1024)).toBe(1024);
  });
});

describe('reconcile messages on the wire', () => {
  const state = { name: 'n1', addr: 'n1:1', inc: 2, inst: 3, state: 'alive' as const, metaVer: 4, meta: { k: 'v' }, proto: 1, app: '' };
  const parse = (v: unknown) => parseMessage(v, defaultLimits);

  it('round-trip', () => {
    const req = { k: 10 as const, seq: 5, from: 'a', fromAddr: 'a:1', b: 4, sums: [0, 1, 0xffffffff, 7] };
    const rep = { k: 11 as const, seq: 5, from: 'b', b: 4, buckets: [2], sums: [9], states: [state] };
    const push = { k: 12 as const, from: 'a', states: [state] };
    for (const m of [req, rep, push]) expect(parse(toWire(m))).toEqual(m);
  });

  it('reject bad bucket counts, sums, bucket indexes and states', () => {
    const bad: unknown[] = [
      [10, 1, 'a', 'a:1', 3, [0, 0, 0]], // not a power of two
      [10, 1, 'a', 'a:1', 8192, new Array(8192).fill(0)], // over MAX_DIGEST_BUCKETS
      [10, 1, 'a', 'a:1', 0, []],
      [10, 1, 'a', 'a:1', 4, [0, 0, 0]], // count and length disagree
      [10, 1, 'a', 'a:1', 2, [0, -1]], // not a uint32
      [10, 1, 'a', 'a:1', 2, [0, 2 ** 32]],
      [10, 1, 'a', 'a:1', 2, 'xx'],
      [10, 1, '', 'a:1', 2, [0, 0]],
      [11, 1, 'b', 4, [4], [0], []], // bucket index out of range
      [11, 1, 'b', 4, [1, 2], [0], []], // sums do not match buckets
      [11, 1, 'b', 2, [0, 1, 1], [0, 0, 0], []], // more buckets than b
      [11, 1, 'b', 4, [1], [0], [['n1', 'n1:1', -1, 3, 0, 4, {}]]], // a bad state
      [11, 1, 'b', 4, [1], [0], new Array(defaultLimits.maxMembers + 1).fill(['n1', 'n1:1', 2, 3, 0, 4, {}])], // too many states,
      [12, 'a', [['n1', 'n1:1', 1, 3, 9, 4, {}]]], // unknown state code
      [12, 'a'],
    ];
    for (const v of bad) expect(parse(v), JSON.stringify(v).slice(0, 80)).toBeNull();
  });
});

describe('a reconciliation reply', () => {
  /**
   * A replier whose view has members in every bucket, asked by a node that holds none (every
   * bucket differs), with a cap smaller than most buckets' total: the reply names only buckets it
   * sent whole, so the asker never pushes back a bucket merely because the reply was cut short.
   */
  it('names only buckets it sends whole, within reconcileMaxMembers', async () => {
    const { Reconciler } = await import('../src/protocol/reconcile.js');
    const { resolveConfig } = await import('../src/config.js');
    const { seededRandom } = await import('@grapevine/core');
    const b = 8;
    for (const max of [1, 3, 7, 20]) {
      const digest = new ViewDigest(b);
      const table = new Map<string, MemberRecord>();
      for (let i = 0; i < 60; i++) {
        const r = rec(`m${i}`);
        table.set(r.name, r);
        digest.update(r.name, r);
      }
      const sent: unknown[] = [];
      const cfg = resolveConfig('lan', { reconcileMaxMembers: max });
      const rc = new Reconciler({
        env: { clock: { now: () => 0 }, random: seededRandom(max), metrics: { increment: () => undefined } } as never,
        cfg, digest,
        members: {
          self: rec('replier'),
          stateOf: (n: string) => {
            const r = table.get(n);
            return r && { name: r.name, addr: r.address, inc: r.incarnation, inst: r.instance, state: r.state, metaVer: r.metaVersion, meta: r.meta };
          },
        } as never,
        outbox: { encode: (m: unknown) => m, fitsPacket: () => true, sendPart: (_a: string, m: unknown) => sent.push(m) } as never,
        trusted: () => true,
        merge: () => undefined,
      });
      rc.onRequest({ k: 10, seq: 1, from: 'asker', fromAddr: 'asker:1', b, sums: new Array<number>(b).fill(0) });
      const reply = sent[0] as { buckets: number[]; sums: number[]; states: { name: string }[] };
      expect(reply.states.length).toBeLessThanOrEqual(max);
      const got = new Set(reply.states.map((s) => s.name));
      const mine = digest.bucketSums(b);
      for (const [j, i] of reply.buckets.entries()) {
        expect(reply.sums[j]).toBe(mine[i]);
        for (const r of table.values()) if (bucketOf(viewMemberHash(r.name, r.instance, r.incarnation), b) === i) expect(got.has(r.name), `bucket ${i} member ${r.name}`).toBe(true);
      }
      expect(reply.states.length).toBeGreaterThan(0);
    }
  });
});
