/**
 * Placement properties: balance across 10 nodes, minimal movement on join and leave, zone-aware
 * replicas, determinism.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHasher, Ring, type Hasher } from '../src/index.js';

let hasher: Hasher;
beforeAll(async () => {
  hasher = await loadHasher();
});

const names = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 16 }), { minLength: 11, maxLength: 11 });
const KEYS = Array.from({ length: 20_000 }, (_, i) => `key:${i}`);
// The balance and movement properties count 100,000 keys: with 20,000 (about 2.4 keys per partition) the noise of
// which keys land in which partition alone is about 4% per node, so ±15% failed now and then on
// perfectly random placements; at 100,000 the placement's own spread (about 3.3%) dominates.
const BALANCE_KEYS = Array.from({ length: 100_000 }, (_, i) => `key:${i}`);

function ring(members: string[], rf = 3, zones?: (n: string) => string): Ring {
  return new Ring(hasher, 8192, rf, members.map((name) => ({ name, zone: zones ? zones(name) : '' })));
}

describe('ring', () => {
  // The balance bounds follow from the statistics, not from a wish: a node's share of 8192
  // rendezvous partitions is binomial (standard deviation 3.3% of the mean at N = 10) and the
  // 100,000 keys add about 1% more, so one node in a draw sits past ±15% about once in 60,000 and
  // the old ±15% bound failed CI about once in 400 runs on a fair placement (seed -799772505: one
  // node at +15.4%). Each draw's bound is now about 6 deviations wide (±20% primaries, ±12%
  // replicas, a once-in-10^8 event), and the spread pooled over every draw must stay under 4.6%,
  // which a biased score function (a node favoured by its name's hash) would exceed.
  it('keys per node stay near the mean across 10 nodes, with the binomial spread of 8192 partitions', () => {
    const primaryDeviations: number[] = [];
    fc.assert(
      fc.property(names, (ns) => {
        const r = ring(ns.slice(0, 10));
        const primary = new Map<string, number>();
        const replica = new Map<string, number>();
        let malformed = 0;
        for (const k of BALANCE_KEYS) {
          const o = r.owners(k);
          if (o.length !== 3 || new Set(o).size !== 3) malformed++;
          primary.set(o[0]!, (primary.get(o[0]!) ?? 0) + 1);
          for (const n of o) replica.set(n, (replica.get(n) ?? 0) + 1);
        }
        expect(malformed).toBe(0);
        for (const [counts, mean, bound] of [
          [primary, BALANCE_KEYS.length / 10, 0.2],
          [replica, (BALANCE_KEYS.length * 3) / 10, 0.12],
        ] as const) {
          expect(counts.size).toBe(10);
          for (const c of counts.values()) expect(Math.abs(c - mean) / mean).toBeLessThan(bound);
        }
        for (const c of primary.values()) primaryDeviations.push(c / (BALANCE_KEYS.length / 10) - 1);
      }),
      { numRuns: 15 },
    );
    const spread = Math.sqrt(primaryDeviations.reduce((s, d) => s + d * d, 0) / primaryDeviations.length);
    expect(spread).toBeLessThan(0.046);
  });

  it('a join moves about 1/(N+1) of the primaries and only onto the new node; a leave moves only the leaver', () => {
    fc.assert(
      fc.property(names, (ns) => {
        const before = ring(ns.slice(0, 10));
        const after = ring(ns);
        const joiner = ns[10]!;
        let movedPrimary = 0;
        let placementsChanged = 0;
        let wrong = 0;
        for (const k of BALANCE_KEYS) {
          const a = before.owners(k);
          const b = after.owners(k);
          if (a[0] !== b[0]) {
            movedPrimary++;
            if (b[0] !== joiner) wrong++;
          }
          // Every owner that is not the joiner was an owner before: nothing else reshuffles.
          for (const o of b) if (o !== joiner && !a.includes(o)) wrong++;
          if (b.includes(joiner)) placementsChanged++;
        }
        expect(wrong).toBe(0);
        const frac = movedPrimary / BALANCE_KEYS.length;
        expect(frac).toBeGreaterThan((1 / 11) * 0.8);
        expect(frac).toBeLessThan((1 / 11) * 1.2);
        expect(placementsChanged / BALANCE_KEYS.length).toBeLessThan((3 / 11) * 1.2);
        // Leave is the reverse: the leaver's keys go elsewhere, no other key moves.
        let reshuffled = 0;
        for (const k of BALANCE_KEYS) {
          const a = after.owners(k);
          const b = before.owners(k);
          if (!a.includes(joiner) && a.join() !== b.join()) reshuffled++;
        }
        expect(reshuffled).toBe(0);
      }),
      { numRuns: 10 },
    );
  });

  it('places replicas in distinct zones when there are enough zones', () => {
    const members = Array.from({ length: 9 }, (_, i) => `n${i}`);
    const zone = (n: string): string => `z${Number(n.slice(1)) % 3}`;
    const r = ring(members, 3, zone);
    for (const k of KEYS.slice(0, 5000)) expect(new Set(r.owners(k).map(zone)).size).toBe(3);
    // Two zones for three replicas: both zones used, the third replica by score.
    const two = ring(members, 3, (n) => `z${Number(n.slice(1)) % 2}`);
    for (const k of KEYS.slice(0, 5000)) {
      const o = two.owners(k);
      expect(new Set(o).size).toBe(3);
      expect(new Set(o.map((n) => Number(n.slice(1)) % 2)).size).toBe(2);
    }
  });

  it('is a function of the member set alone, and copes with fewer members than replicas', () => {
    const a = ring(['a', 'b', 'c', 'd']);
    const b = ring(['d', 'c', 'b', 'a']);
    for (const k of KEYS.slice(0, 1000)) expect(a.owners(k)).toEqual(b.owners(k));
    expect(ring(['solo']).owners('x')).toEqual(['solo']);
    expect(ring([]).owners('x')).toEqual([]);
  });
});
