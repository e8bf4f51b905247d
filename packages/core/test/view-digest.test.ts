import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ViewDigest, computeViewDigest, defaultLimits, parseMessage, toWire, viewMemberHash, type MemberRecord, type MemberState } from '@grapevine/core';

/** The per-member hash exactly as docs/protocol.md specifies it, written the plain way (TextEncoder, a byte array). */
function specHash(name: string, instance: number, incarnation: number): number {
  const bytes = [...new TextEncoder().encode(name), 0];
  for (const n of [instance, incarnation]) {
    for (const w of [n % 2 ** 32, Math.floor(n / 2 ** 32)]) bytes.push(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, (w >>> 24) & 0xff);
  }
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rec(name: string, incarnation = 0, state: MemberState = 'alive', instance = 1): MemberRecord {
  return { name, address: `${name}:1`, state, incarnation, instance, meta: {}, metaVersion: 0, stateChangedAt: 0, protocol: 1, appVersion: '' };
}

describe('view digest', () => {
  it('hashes a member as the protocol document specifies, for any name (UTF-8, astral planes, lone surrogates) and 53-bit numbers', () => {
    fc.assert(fc.property(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }),
      fc.maxSafeNat(), fc.maxSafeNat(),
      (name, inst, inc) => viewMemberHash(name, inst, inc) === specHash(name, inst, inc),
    ));
    for (const odd of ['\ud800', 'a\udc00b', '\ud83d\ude00', 'x\ud83d', '\udbff\udfff']) {
      expect(viewMemberHash(odd, 3, 4), JSON.stringify(odd)).toBe(specHash(odd, 3, 4));
    }
    // Vectors for other implementations (also in docs/protocol.md).
    expect(viewMemberHash('node-1', 0, 0)).toBe(specHash('node-1', 0, 0));
    expect(viewMemberHash('node-1', 0, 0).toString(16)).toBe('35c05a8f');
    expect(viewMemberHash('node-1', 1_700_000_000_000 * 4096 + 7, 3).toString(16)).toBe('3df9c449');
    expect(computeViewDigest([rec('node-1', 0, 'alive', 0), rec('node-2', 1, 'suspect', 5)]).toString(16)).toBe('5e2cbc8a');
  });

  it('is the same whatever order changes arrive in, and the incremental value equals a recomputation', () => {
    const member = fc.record({
      name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'ü', '节点'),
      inc: fc.nat({ max: 5 }),
      inst: fc.nat({ max: 3 }),
      state: fc.constantFrom<MemberState>('alive', 'suspect', 'dead', 'left'),
    });
    fc.assert(fc.property(fc.array(member, { maxLength: 40 }), fc.infiniteStream(fc.nat()), (changes, picks) => {
      // Apply the changes to a table, updating the digest after each one.
      const table = new Map<string, MemberRecord>();
      const d = new ViewDigest();
      for (const c of changes) {
        table.set(c.name, rec(c.name, c.inc, c.state, c.inst));
        d.update(c.name, table.get(c.name));
        if (c.state === 'left' && c.inc === 0) {
          table.delete(c.name); // a reaped tombstone
          d.update(c.name, undefined);
        }
      }
      expect(d.value).toBe(computeViewDigest(table.values()));
      // The final table inserted in a shuffled order gives the same digest.
      const final = [...table.values()];
      const it = picks[Symbol.iterator]();
      for (let i = final.length - 1; i > 0; i--) {
        const j = it.next().value! % (i + 1);
        [final[i], final[j]] = [final[j]!, final[i]!];
      }
      expect(computeViewDigest(final)).toBe(d.value);
      expect(d.rebuild(table.values())).toBe(false);
    }));
  });

  it('counts live members only, sees incarnation and instance changes, not alive vs suspect', () => {
    const base = [rec('a', 1), rec('b', 2), rec('c', 0)];
    const v = computeViewDigest(base);
    expect(computeViewDigest([rec('a', 1), rec('b', 2)])).not.toBe(v); // missing a member
    expect(computeViewDigest([...base, rec('d', 0, 'dead')])).toBe(v); // tombstones do not count
    expect(computeViewDigest([...base, rec('d', 0, 'left')])).toBe(v);
    expect(computeViewDigest([rec('a', 1), rec('b', 2, 'suspect'), rec('c', 0)])).toBe(v);
    expect(computeViewDigest([rec('a', 1), rec('b', 3), rec('c', 0)])).not.toBe(v); // a missed refutation
    expect(computeViewDigest([rec('a', 1), rec('b', 2), rec('c', 0, 'alive', 2)])).not.toBe(v); // a missed restart
    const d = new ViewDigest();
    for (const r of base) d.update(r.name, r);
    expect(d.size).toBe(3);
    d.update('b', rec('b', 2, 'dead'));
    expect(d.size).toBe(2);
    expect(d.value).toBe(computeViewDigest([rec('a', 1), rec('c', 0)]));
    expect(d.rebuild(base)).toBe(true); // drift is reported
    expect(d.value).toBe(v);
  });
});

describe('view digest on the wire', () => {
  const L = defaultLimits;
  it('rides pings and acks as optional trailing fields', () => {
    const ping = { k: 1 as const, seq: 7, target: 'b', from: 'a', fromAddr: 'a:1', digest: 0xffffffff };
    expect(toWire(ping)).toEqual([1, 7, 'b', 'a', 'a:1', 0xffffffff]);
    expect(parseMessage(toWire(ping), L)).toEqual(ping);
    const ack = { k: 3 as const, seq: 7, digest: 0, from: 'b' };
    expect(toWire(ack)).toEqual([3, 7, 0, 'b']);
    expect(parseMessage(toWire(ack), L)).toEqual(ack);
    // Without the field: the version-1 shapes, exactly as before.
    expect(toWire({ k: 1, seq: 7, target: 'b', from: 'a', fromAddr: 'a:1' })).toEqual([1, 7, 'b', 'a', 'a:1']);
    expect(toWire({ k: 3, seq: 7 })).toEqual([3, 7]);
    expect(parseMessage([3, 7], L)).toEqual({ k: 3, seq: 7 });
    expect(parseMessage([1, 7, 'b', 'a', 'a:1'], L)).toEqual({ k: 1, seq: 7, target: 'b', from: 'a', fromAddr: 'a:1' });
    expect(parseMessage([1, 7, 'b', 'a', 'a:1', null], L)).toEqual({ k: 1, seq: 7, target: 'b', from: 'a', fromAddr: 'a:1' });
    // Later additions after the digest are ignored, as the protocol promises.
    expect(parseMessage([1, 7, 'b', 'a', 'a:1', 5, 'future'], L)).toMatchObject({ digest: 5 });
    expect(parseMessage([3, 7, 5, 'b', 'future'], L)).toMatchObject({ digest: 5, from: 'b' });
  });

  it('drops a ping or ack whose digest is not a uint32, or an ack whose digest names no valid sender', () => {
    for (const bad of [-1, 2 ** 32, 1.5, '5', true, [], {}]) {
      expect(parseMessage([1, 7, 'b', 'a', 'a:1', bad], L)).toBeNull();
      expect(parseMessage([3, 7, bad, 'b'], L)).toBeNull();
    }
    expect(parseMessage([3, 7, 5], L)).toBeNull();
    expect(parseMessage([3, 7, 5, ''], L)).toBeNull();
    expect(parseMessage([3, 7, 5, 'x'.repeat(L.maxNameBytes + 1)], L)).toBeNull();
  });
});
