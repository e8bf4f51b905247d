/**
 * The stale rule's version table against a Map, and the turn clock behind versions.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Clock } from '@grapevine/core';

describe('version table', () => {
  it('matches a Map across growth, updates and clears, for any keys (collisions included) and seeds', async () => {
    const { VersionTable } = await import('../src/version-table.js');
    fc.assert(fc.property(fc.integer(), fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.nat()), { maxLength: 300 }), (seed, ops) => {
      const t = new VersionTable(seed, 1);
      const m = new Map<string, number>();
      ops.forEach(([k, v], i) => {
        if (i === 200) (t.clear(), m.clear());
        if (i === 100 || i === 250) t.reserve(i * 3); // grown at once, mid-use and after a clear
        const h = t.hash(k);
        const at = t.find(k, h);
        expect(at >= 0).toBe(m.has(k));
        if (at >= 0) t.setVersion(at, v);
        else t.insert(k, h, v);
        m.set(k, v);
        expect(t.size).toBe(m.size);
      });
      for (const [k, v] of m) expect(t.get(k)).toBe(v);
      expect(t.get('\u0000never')).toBe(m.get('\u0000never'));
    }), { numRuns: 200 });
  });

  it('deferred entries: settled in order, through growth and clears, they match a Map of newest versions', async () => {
    const { VersionTable } = await import('../src/version-table.js');
    fc.assert(fc.property(fc.integer(), fc.array(fc.tuple(fc.string({ maxLength: 4 }), fc.nat(3)), { maxLength: 400 }), (seed, ops) => {
      const t = new VersionTable(seed, 1);
      const m = new Map<string, number>();
      let version = 0;
      ops.forEach(([k, how], i) => {
        version++; // rising, as defer requires
        if (i === 150 || i === 300) {
          t.clear();
          m.clear();
          if (i === 150) t.reserveLater(64);
        }
        if (how === 0) {
          // An indexed insert or update, after settling (what a lookup for an older event does).
          t.settle();
          const h = t.hash(k);
          const at = t.find(k, h);
          if (at >= 0) t.setVersion(at, version);
          else t.insert(k, h, version);
        } else {
          t.defer(k, version);
        }
        m.set(k, version);
        if (how === 3) expect(t.get(k)).toBe(version); // settles everything deferred
        expect(t.size + t.deferred).toBeGreaterThanOrEqual(m.size);
      });
      for (const [k, v] of m) expect(t.get(k)).toBe(v);
      expect(t.deferred).toBe(0);
      expect(t.size).toBe(m.size);
      expect(t.get('\u0000never')).toBeUndefined();
    }), { numRuns: 200 });
  });
});

describe('turn clock', () => {
  it('reads the wall clock once per turn and every REREAD_EVERY uses; a clock without soon is read every time', async () => {
    const { TurnClock, REREAD_EVERY } = await import('../src/turn-clock.js');
    let t = 1000;
    let reads = 0;
    const queued: (() => void)[] = [];
    const clock: Clock = { now: () => (reads++, t), setTimer: () => ({ cancel() {} }), soon: (fn) => queued.push(fn) };
    const c = new TurnClock(clock);
    for (let i = 0; i < REREAD_EVERY; i++) {
      expect(c.now()).toBe(1000);
      t++; // the wall moves on within the turn: the reading is reused
    }
    expect(reads).toBe(1);
    expect(c.now()).toBe(1000 + REREAD_EVERY); // read again after REREAD_EVERY uses
    expect(reads).toBe(2);
    expect(queued.length).toBe(1); // one turn-end callback per turn
    queued.shift()!();
    t = 5000;
    expect(c.now()).toBe(5000); // a new turn reads again
    expect(reads).toBe(3);
    expect(queued.length).toBe(1);

    let plainReads = 0;
    const plain = new TurnClock({ now: () => ++plainReads, setTimer: () => ({ cancel() {} }) });
    expect([plain.now(), plain.now(), plain.now()]).toEqual([1, 2, 3]);
  });
});
