import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HLC_LOGICAL_BITS, HLC_MAX, HybridLogicalClock, hlcLogical, hlcWall } from '../src/hlc.js';

const SCALE = 2 ** HLC_LOGICAL_BITS;
/** Wall times a clock may give: 0 .. just under HLC_MAX / 1024 ms (year ~2248). */
const realisticWall = fc.integer({ min: 0, max: 2 ** 43 - 2 ** 31 });
const garbageWall = fc.constantFrom(Number.NaN, -1, -1e15, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e300, 2 ** 53, 123.75);
const wallArb = fc.oneof({ weight: 6, arbitrary: realisticWall }, { weight: 1, arbitrary: garbageWall });

/** A remote timestamp the clock must honour: what a sane peer sends. */
const validRemote = fc.oneof(
  fc.tuple(realisticWall, fc.integer({ min: 0, max: SCALE - 1 })).map(([w, l]) => w * SCALE + l),
  fc.integer({ min: 0, max: 2 ** 31 }),
);
const garbageRemote = fc.oneof(
  fc.constantFrom(Number.NaN, -1, -(2 ** 40), 0.5, 1e300, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  fc.constantFrom(2 ** 53, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, 2 ** 52 * 1.75),
  fc.double(),
);

type Op = { kind: 'now'; wall: number } | { kind: 'observe'; wall: number; remote: number; valid: boolean };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: wallArb.map((wall) => ({ kind: 'now' as const, wall })) },
  { weight: 2, arbitrary: fc.tuple(wallArb, validRemote).map(([wall, remote]) => ({ kind: 'observe' as const, wall, remote, valid: true })) },
  { weight: 1, arbitrary: fc.tuple(wallArb, garbageRemote).map(([wall, remote]) => ({ kind: 'observe' as const, wall, remote, valid: false })) },
);

describe('HybridLogicalClock', () => {
  it('now() is strictly increasing however the wall clock moves', () => {
    fc.assert(
      fc.property(fc.array(wallArb, { minLength: 1, maxLength: 300 }), (walls) => {
        let wall = 0;
        const clock = new HybridLogicalClock(() => wall);
        let prev = -1;
        for (const w of walls) {
          wall = w;
          const t = clock.now();
          expect(Number.isSafeInteger(t)).toBe(true);
          expect(t).toBeGreaterThan(prev);
          expect(clock.peek()).toBe(t);
          prev = t;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('after observe(), the next timestamps exceed every valid remote and every earlier local', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 200 }), (ops) => {
        let wall = 0;
        const clock = new HybridLogicalClock(() => wall);
        let floor = -1; // greatest timestamp issued or validly observed so far
        for (const op of ops) {
          wall = op.wall;
          if (op.kind === 'now') {
            const t = clock.now();
            expect(Number.isSafeInteger(t)).toBe(true);
            expect(t).toBeGreaterThan(floor);
            floor = t;
          } else {
            const before = clock.peek();
            const t = clock.observe(op.remote);
            expect(Number.isSafeInteger(t)).toBe(true);
            expect(t).toBeGreaterThanOrEqual(before);
            expect(clock.peek()).toBe(t);
            if (op.valid) {
              expect(t).toBeGreaterThan(op.remote);
              expect(t).toBeGreaterThan(floor);
              floor = t;
            }
            floor = Math.max(floor, t);
          }
        }
        // and the clock still moves afterwards
        const last = clock.now();
        expect(last).toBeGreaterThan(floor);
        expect(clock.now()).toBeGreaterThan(last);
      }),
      { numRuns: 300 },
    );
  });

  it('uses the wall clock when it is ahead, with a zero logical part', () => {
    let wall = 1_700_000_000_123;
    const clock = new HybridLogicalClock(() => wall);
    const t1 = clock.now();
    expect(hlcWall(t1)).toBe(wall);
    expect(hlcLogical(t1)).toBe(0);
    const t2 = clock.now();
    expect(hlcWall(t2)).toBe(wall);
    expect(hlcLogical(t2)).toBe(1);
    wall -= 5_000; // clock stepped back
    const t3 = clock.now();
    expect(t3).toBe(t2 + 1);
    wall += 10_000;
    expect(clock.now()).toBe(wall * SCALE);
    expect(clock.now()).toBe(wall * SCALE + 1);
  });

  it('observe() of a remote ahead of us moves past it; of one behind leaves the wall in charge', () => {
    let wall = 1_000;
    const clock = new HybridLogicalClock(() => wall);
    const remote = 5_000 * SCALE + 7;
    expect(clock.observe(remote)).toBe(remote + 1);
    expect(clock.now()).toBe(remote + 2);
    wall = 9_000;
    expect(clock.observe(2_000 * SCALE)).toBe(9_000 * SCALE);
    expect(clock.observe(9_000 * SCALE)).toBe(9_000 * SCALE + 1);
  });

  it('ignores garbage remotes and a garbage wall clock without getting stuck', () => {
    let wall = 1_000;
    const clock = new HybridLogicalClock(() => wall);
    const t0 = clock.now();
    for (const bad of [Number.NaN, -1, 0.5, Number.POSITIVE_INFINITY, 2 ** 53, Number.MAX_SAFE_INTEGER]) {
      expect(clock.observe(bad)).toBe(t0);
    }
    for (const badWall of [Number.NaN, Number.POSITIVE_INFINITY, 1e300, -50]) {
      wall = badWall;
      const before = clock.peek();
      const t = clock.now();
      expect(Number.isSafeInteger(t)).toBe(true);
      expect(t).toBe(before + 1);
    }
  });

  it('accepts timestamps up to HLC_MAX and keeps ticking past them', () => {
    const clock = new HybridLogicalClock(() => 0);
    expect(clock.observe(HLC_MAX)).toBe(HLC_MAX + 1);
    expect(clock.observe(HLC_MAX + 1)).toBe(HLC_MAX + 1); // over the bound: ignored
    let prev = clock.peek();
    for (let i = 0; i < 1000; i++) {
      const t = clock.now();
      expect(t).toBe(prev + 1);
      prev = t;
    }
  });

  it('hlcWall/hlcLogical decompose any timestamp', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (ts) => {
        const w = hlcWall(ts);
        const l = hlcLogical(ts);
        expect(Number.isInteger(w)).toBe(true);
        expect(l).toBeGreaterThanOrEqual(0);
        expect(l).toBeLessThan(SCALE);
        expect(w * SCALE + l).toBe(ts);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(realisticWall, fc.integer({ min: 0, max: SCALE - 1 }), (w, l) => {
        expect(hlcWall(w * SCALE + l)).toBe(w);
        expect(hlcLogical(w * SCALE + l)).toBe(l);
      }),
    );
  });

  it('timestamps from two clocks exchanging messages order causally', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: -50, max: 50 })), { minLength: 1, maxLength: 100 }),
        fc.integer({ min: -1000, max: 1000 }),
        (steps, skew) => {
          let real = 1_000_000;
          const a = new HybridLogicalClock(() => real);
          const b = new HybridLogicalClock(() => real + skew);
          for (const [aSends, dt] of steps) {
            real += dt; // real time jitters too
            const [from, to] = aSends ? [a, b] : [b, a];
            const sent = from.now();
            to.observe(sent);
            expect(to.now()).toBeGreaterThan(sent);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
