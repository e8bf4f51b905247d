/**
 * Unit and property tests of the messaging building blocks: dedup window, piggyback queue, the
 * broadcast tree, hop limits, and the user-message parser on arbitrary input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_TAKE_SKIPS, MessageQueue, SeenMessages, defaultLimits, hopLimit, parseUserMessage, pushFanout, treeChildren, userToWire, type UserMessage } from '@grapevine/core';

describe('SeenMessages (dedup)', () => {
  it('past its bound (and across the FIFO compaction) keeps the newest ids and refuses older ones as stale', () => {
    const s = new SeenMessages(1e9, 1500, 10);
    for (let id = 1; id <= 5000; id++) {
      expect(s.check(id % 2 ? 'a' : 'b', id, id)).toBe('new');
      expect(s.size).toBeLessThanOrEqual(1500);
    }
    for (let id = 3501; id <= 5000; id++) expect(s.check(id % 2 ? 'a' : 'b', id, 6000)).toBe('duplicate');
    for (let id = 1; id <= 3500; id += 37) expect(s.check(id % 2 ? 'a' : 'b', id, 6000)).toBe('stale');
  });

  it('accepts an id once, then calls copies duplicates', () => {
    const s = new SeenMessages(1000, 100, 10);
    expect(s.check('a', 5, 0)).toBe('new');
    expect(s.check('a', 5, 10)).toBe('duplicate');
    expect(s.check('b', 5, 10)).toBe('new'); // ids are per origin
  });

  it('after the window a replayed id is stale, never new again', () => {
    const s = new SeenMessages(1000, 100, 10);
    s.check('a', 5, 0);
    s.check('a', 6, 500);
    expect(s.check('a', 5, 1500)).toBe('stale');
    expect(s.check('a', 7, 1500)).toBe('new');
  });

  it('property: whatever the order and repetition, each (origin, id) is new at most once', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ o: fc.constantFrom('a', 'b', 'c'), id: fc.integer({ min: 1, max: 40 }), dt: fc.integer({ min: 0, max: 50 }) }), { maxLength: 300 }),
      fc.integer({ min: 1, max: 64 }),
      (events, max) => {
        const s = new SeenMessages(200, max, 3); // room for every origin's floor
        const accepted = new Set<string>();
        let now = 0;
        for (const e of events) {
          now += e.dt;
          if (s.check(e.o, e.id, now) === 'new') {
            // Forgotten ids raise their origin's floor, so nothing is accepted twice.
            const key = `${e.o}/${e.id}`;
            if (accepted.has(key)) return false;
            accepted.add(key);
          }
          if (s.size > max) return false; // bounded
        }
        return true;
      },
    ));
  });
});

describe('SeenMessages.lookup (the header peek)', () => {
  it('property: gives the verdict check() would, counts refusals the same, and records nothing', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ o: fc.constantFrom('a', 'b', 'c'), id: fc.integer({ min: 1, max: 30 }), dt: fc.integer({ min: 0, max: 40 }), peek: fc.boolean() }), { maxLength: 300 }),
      fc.integer({ min: 1, max: 40 }),
      (events, max) => {
        const s = new SeenMessages(150, max, 3);
        let now = 0;
        for (const e of events) {
          now += e.dt;
          const size = s.size;
          const dup = s.duplicates;
          const stale = s.stale;
          const verdict = s.lookup(e.o, e.id, now);
          const pruned = s.size; // lookup forgets by time like check does, nothing more
          if (pruned > size) return false;
          if (verdict === 'duplicate' && (s.duplicates !== dup + 1 || s.stale !== stale)) return false;
          if (verdict === 'stale' && (s.stale !== stale + 1 || s.duplicates !== dup)) return false;
          if (verdict === 'new' && (s.stale !== stale || s.duplicates !== dup)) return false;
          if (e.peek) {
            // A header peek alone: the same id is still new afterwards.
            if (verdict === 'new' && s.lookup(e.o, e.id, now) !== 'new') return false;
            continue;
          }
          // The full path: a copy the peek let through is then checked, with the same verdict.
          if (verdict === 'new' && s.check(e.o, e.id, now) !== 'new') return false;
          // ...and then refused (stale when the bound forgot an id of its origin above it).
          if (verdict === 'new' && s.lookup(e.o, e.id, now) === 'new') return false;
        }
        return true;
      },
    ));
  });
});

describe('SeenMessages (origin bound)', () => {
  it('an origin whose floor is forgotten still refuses the ids it remembers', () => {
    const s = new SeenMessages(1000, 100, 1); // one origin floor at most
    expect(s.check('a', 1, 0)).toBe('new');
    expect(s.check('b', 1, 10)).toBe('new');
    expect(s.check('a', 2, 900)).toBe('new');
    expect(s.check('a', 1, 1005)).toBe('stale'); // a:1 aged out: a's floor is 1
    expect(s.check('b', 1, 1015)).toBe('stale'); // b:1 aged out: b's floor evicts a's
    expect(s.check('a', 2, 1020)).toBe('duplicate'); // still remembered, floor or not
    expect(s.check('a', 1, 1020)).toBe('new'); // the documented cost of the origin bound
    expect(s.size).toBe(2);
  });
});

describe('MessageQueue', () => {
  const part = (n: number, len = 10): Uint8Array => new Uint8Array(len).fill(n);

  it('sends each entry at most `limit` times, least-sent first, oldest first', () => {
    const q = new MessageQueue(100);
    q.enqueue(part(1));
    q.enqueue(part(2));
    expect(q.take(1000, 2, 1, 3).map((p) => p[0])).toEqual([1]);
    expect(q.take(1000, 2, 10, 3).map((p) => p[0])).toEqual([2, 1]);
    expect(q.take(1000, 2, 10, 3).map((p) => p[0])).toEqual([2, 1]);
    expect(q.take(1000, 2, 10, 3).map((p) => p[0])).toEqual([2]);
    expect(q.size).toBe(0);
  });

  it('respects the byte budget and drops the most-sent entry at the bound', () => {
    const q = new MessageQueue(2);
    q.enqueue(part(1, 100));
    q.take(1000, 2, 10, 5); // 1 sent once
    q.enqueue(part(2, 100));
    q.enqueue(part(3, 100)); // over the bound: 1 (most sent) goes
    expect(q.dropped).toBe(1);
    expect(q.take(150, 2, 10, 5).map((p) => p[0])).toEqual([2]); // only one fits in 150 bytes
  });

  it('looks past at most MAX_TAKE_SKIPS entries that do not fit before sending what it has', () => {
    const fill = (smallAt: number): MessageQueue => {
      const q = new MessageQueue(1000);
      q.enqueue(part(1, 100));
      for (let i = 0; i < smallAt; i++) q.enqueue(part(2, 200));
      q.enqueue(part(3, 10));
      return q;
    };
    // Within the window the small part still fills the space left; past it, the scan stops.
    expect(fill(MAX_TAKE_SKIPS - 1).take(150, 2, 255, 5).map((p) => p[0])).toEqual([1, 3]);
    const far = fill(MAX_TAKE_SKIPS + 40);
    expect(far.take(150, 2, 255, 5).map((p) => p[0])).toEqual([1]);
    // Nothing is lost: the next, larger packets take the rest in order.
    expect(far.take(1400, 2, 255, 5).map((p) => p[0])).toEqual([2, 2, 2, 2, 2, 2]);
    expect(far.size).toBe(MAX_TAKE_SKIPS + 42);
  });

  it('an entry that keeps being passed over stays first in line while thousands go past it', () => {
    const q = new MessageQueue(10_000);
    q.enqueue(part(1, 300)); // never fits the 150-byte packets below
    for (let i = 0; i < 5000; i++) {
      q.enqueue(part(2, 20));
      expect(q.take(150, 2, 1, 1).map((p) => p[0])).toEqual([2]); // sent once, then retired
    }
    expect(q.size).toBe(1);
    expect(q.take(1400, 2, 255, 1).map((p) => p[0])).toEqual([1]);
    expect(q.size).toBe(0);
    // Drained and refilled, it serves in order again.
    for (let n = 3; n < 6; n++) q.enqueue(part(n));
    expect(q.take(1400, 2, 255, 2).map((p) => p[0])).toEqual([3, 4, 5]);
    expect(q.take(1400, 2, 255, 2).map((p) => p[0])).toEqual([3, 4, 5]);
    expect(q.size).toBe(0);
  });

  it('property: matches a plain list model (least-sent first, oldest first, skips, bound)', () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(
        fc.record({ op: fc.constant('add' as const), len: fc.integer({ min: 1, max: 300 }) }),
        fc.record({ op: fc.constant('take' as const), budget: fc.integer({ min: 20, max: 1400 }), max: fc.integer({ min: 1, max: 20 }) }),
      ), { maxLength: 300 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 40 }),
      (ops, limit, bound) => {
        const q = new MessageQueue(bound);
        // The model: entries with their transmit count, ordered by (count, time entered that count).
        let model: { part: Uint8Array; n: number; t: number }[] = [];
        let clock = 0;
        for (const o of ops) {
          if (o.op === 'add') {
            const p = new Uint8Array(o.len);
            q.enqueue(p);
            model.push({ part: p, n: 0, t: clock++ });
            if (model.length > bound) {
              const byAge = [...model].sort((a, b) => b.n - a.n || a.t - b.t);
              model = model.filter((e) => e !== byAge[0]);
            }
            continue;
          }
          const got = q.take(o.budget, 2, o.max, limit);
          const order = [...model].sort((a, b) => a.n - b.n || a.t - b.t);
          const want: Uint8Array[] = [];
          let used = 0;
          let skipped = 0;
          for (const e of order) {
            const cost = e.part.length + 2;
            if (used + cost > o.budget) {
              if (o.budget - used < 10 || ++skipped >= MAX_TAKE_SKIPS) break;
              continue;
            }
            used += cost;
            want.push(e.part);
            if (want.length >= o.max) break;
          }
          for (const p of want) {
            const e = model.find((m) => m.part === p)!;
            e.n++;
            e.t = clock++;
          }
          model = model.filter((e) => e.n < limit);
          if (got.length !== want.length || got.some((p, i) => p !== want[i])) return false;
          if (q.size !== model.length) return false;
        }
        return true;
      },
    ), { numRuns: 300 });
  });

  it('property: never more than limit transmissions per entry, never over budget', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 50 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 50, max: 1400 }),
      (lens, limit, budget) => {
        const q = new MessageQueue(1000);
        const parts = lens.map((l) => new Uint8Array(l));
        for (const p of parts) q.enqueue(p);
        const sent = new Map<Uint8Array, number>();
        for (let round = 0; round < 200 && q.size > 0; round++) {
          const out = q.take(budget, 2, 255, limit);
          if (out.reduce((s, p) => s + p.length + 2, 0) > budget) return false;
          for (const p of out) sent.set(p, (sent.get(p) ?? 0) + 1);
          if (out.length === 0) break;
        }
        return [...sent.values()].every((n) => n <= limit);
      },
    ));
  });
});

describe('broadcast tree', () => {
  it('property: with one shared view, every member is reached exactly once from any origin', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 6 }), fc.nat(), (n, fanout, o) => {
      const names = Array.from({ length: n }, (_, i) => `node-${String(i).padStart(4, '0')}`).sort();
      const origin = names[o % n]!;
      const reached = new Map<string, number>([[origin, 0]]);
      const depth = new Map<string, number>([[origin, 0]]);
      const queue = [origin];
      while (queue.length) {
        const at = queue.shift()!;
        for (const c of treeChildren(names, at, origin, fanout)!) {
          if (reached.has(c)) return false; // reached twice
          reached.set(c, 1);
          depth.set(c, depth.get(at)! + 1);
          queue.push(c);
        }
      }
      if (reached.size !== n) return false;
      // Depth is logarithmic: within the hop limit.
      return Math.max(...depth.values()) <= (fanout === 1 ? n : hopLimit(n));
    }));
  });

  it('up to broadcastDirectMax other members, the origin pushes to all of them and relays to nobody', () => {
    const names = Array.from({ length: 10 }, (_, i) => `n${i}`).sort();
    const f = pushFanout(names.length, 3, 16);
    expect(f).toBe(9);
    for (const origin of names) {
      expect(new Set(treeChildren(names, origin, origin, f))).toEqual(new Set(names.filter((n) => n !== origin)));
      for (const other of names) if (other !== origin) expect(treeChildren(names, other, origin, f)).toEqual([]);
    }
    // Above the bound (or with 0) the configured tree stays.
    expect(pushFanout(18, 3, 16)).toBe(3);
    expect(pushFanout(10, 3, 0)).toBe(3);
    expect(pushFanout(10, 3, 8)).toBe(3);
    expect(pushFanout(9, 3, 8)).toBe(8);
    // A fan-out already wider than the cluster is kept.
    expect(pushFanout(3, 5, 16)).toBe(5);
    expect(pushFanout(1, 3, 16)).toBe(3);
  });

  it('returns null when the origin or this node is not in the view', () => {
    expect(treeChildren(['a', 'b'], 'a', 'zz', 3)).toBeNull();
    expect(treeChildren(['a', 'b'], 'zz', 'a', 3)).toBeNull();
  });

  it('hop limit grows with log2 N', () => {
    expect(hopLimit(1)).toBe(5);
    expect(hopLimit(50)).toBe(10);
    expect(hopLimit(500)).toBe(13);
  });
});

describe('user message parser', () => {
  it('round-trips every kind', () => {
    const msgs: UserMessage[] = [
      { s: 0, type: 128, from: 'a', payload: { x: 1 } },
      { s: 1, type: 300, origin: 'a', id: 2 ** 50, hops: 7, payload: 'p' },
      { s: 2, type: 65535, from: 'a', fromAddr: '127.0.0.1:1', reqId: 9, payload: null },
      { s: 3, reqId: 9, from: 'b', status: 0, payload: [1, 2] },
      { s: 4, opener: 'a', sid: 1, type: 200, fromAddr: '127.0.0.1:1', header: { f: 1 }, window: 1024 },
      { s: 5, opener: 'a', sid: 1, seq: 0, data: new Uint8Array([1, 2]) },
      { s: 6, opener: 'a', sid: 1, bytes: 100 },
      { s: 7, opener: 'a', sid: 1, seq: 3 },
      { s: 8, opener: 'a', sid: 1, code: 'ERR_X', message: 'why' },
    ];
    for (const m of msgs) expect(parseUserMessage(userToWire(m), defaultLimits)).toEqual(m);
  });

  it('bounds names in UTF-8 bytes, multi-byte characters counted exactly', () => {
    const max = defaultLimits.maxNameBytes;
    const gossip = (origin: string): unknown[] => [9, 1, 200, origin, 1, 3, null];
    expect(parseUserMessage(gossip('a'.repeat(max)), defaultLimits)).not.toBeNull();
    expect(parseUserMessage(gossip('a'.repeat(max + 1)), defaultLimits)).toBeNull();
    const euro = '€'.repeat(Math.floor(max / 3)); // 3 bytes each
    expect(parseUserMessage(gossip(euro + 'a'.repeat(max - euro.length * 3)), defaultLimits)).not.toBeNull();
    expect(parseUserMessage(gossip(euro + 'a'.repeat(max - euro.length * 3 + 1)), defaultLimits)).toBeNull();
    expect(parseUserMessage(gossip('😀'.repeat(max / 4)), defaultLimits)).not.toBeNull(); // 4 bytes, 2 units
    expect(parseUserMessage(gossip('😀'.repeat(max / 4) + 'a'), defaultLimits)).toBeNull();
  });

  it('property: arbitrary arrays after kind 9 never throw, and reserved types are refused', () => {
    fc.assert(fc.property(fc.array(fc.anything(), { maxLength: 9 }), (rest) => {
      const v = [9, ...rest];
      const m = parseUserMessage(v, defaultLimits);
      if (m && 'type' in m && (m.type < 128 || m.type > 65535)) return false;
      return true;
    }));
    expect(parseUserMessage([9, 0, 127, 'a', null], defaultLimits)).toBeNull();
  });
});
