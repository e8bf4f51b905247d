/**
 * Batching and pending-dedup: the batcher's bounds and order, its columns against a record-per-key model, the batch sizer's arithmetic against the codec, and many batches in a row.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ACK, Batcher, HAS_VALUE, type PendingBatch } from '@grapevine/mesh';
import { msgpackCodec } from '@grapevine/codec-msgpack';

/** Queue a bare or valued event the way the publisher does. */
const add = (b: Batcher, key: string, bytes = 10, version = 1, value?: unknown, owner?: object): boolean => b.add(key, version, value !== undefined, value, false, bytes, owner);
/** take()'s columns as one record per event. */
const rows = (p: PendingBatch) => p.keys.map((key, i) => ({ key, version: p.versions[i]!, value: p.values?.[i], bytes: p.bytes[i]! }));

describe('batcher', () => {
  it('pending-dedup: a waiting key is merged, keeping the newest value and its place', () => {
    const b = new Batcher({ size: 20, bytes: 1000 });
    expect(add(b, 'a', 10, 1, 'v1')).toBe(false);
    expect(add(b, 'b')).toBe(false);
    expect(add(b, 'a', 12, 5, 'v2')).toBe(true);
    expect(b.size).toBe(2);
    expect(b.bytes).toBe(22);
    const out = rows(b.take());
    expect(out.map((e) => [e.key, e.value, e.version])).toEqual([['a', 'v2', 5], ['b', undefined, 1]]);
    expect(b.size).toBe(0);
    expect(b.bytes).toBe(0);
  });

  it('an aborted publish is withdrawn only while it alone owns the entry', () => {
    const b = new Batcher({ size: 20, bytes: 1000 });
    const owner = {};
    add(b, 'a', 10, 1, undefined, owner);
    expect(b.withdraw('a', owner)).toBe(true);
    add(b, 'b', 10, 1, undefined, owner);
    add(b, 'b'); // someone else published b too
    expect(b.withdraw('b', owner)).toBe(false);
    expect(b.size).toBe(1);
  });

  it('property: batches never exceed the key count or byte budget, keep publish order, and lose nothing', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 50, max: 2000 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 50 })), { maxLength: 300 }),
      (size, bytes, ops) => {
        const b = new Batcher({ size, bytes });
        const batches: string[][] = [];
        const lastWritten = new Map<string, number>();
        const order: string[] = [];
        let t = 0;
        const flushAll = (): void => { while (b.size > 0) batches.push(rows(b.take()).map((e) => { expect(e.version).toBe(lastWritten.get(e.key)); return e.key; })); };
        for (const [k, sz] of ops) {
          const key = `k${k}`;
          t++;
          if (b.wouldOverflow(key, sz)) flushAll();
          if (!b.has(key)) order.push(key);
          lastWritten.set(key, t);
          add(b, key, sz, t);
          if (b.full()) {
            const taken = b.take();
            batches.push(taken.keys);
          }
        }
        flushAll();
        for (const batch of batches) {
          expect(batch.length).toBeLessThanOrEqual(size);
          expect(new Set(batch).size).toBe(batch.length); // pending-dedup within a batch
        }
        // Every key published reaches a batch, in the order it first waited.
        expect(batches.flat()).toEqual(order);
      },
    ), { numRuns: 200 });
  });

  it('property: with the byte check before add, a batch of two or more never exceeds the byte budget', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 300, max: 1400 }), (sizes, budget) => {
      const b = new Batcher({ size: 1000, bytes: budget });
      const out: number[][] = [];
      sizes.forEach((sz, i) => {
        if (b.wouldOverflow(`k${i}`, sz)) out.push(b.take().bytes);
        add(b, `k${i}`, sz);
        if (b.full()) out.push(b.take().bytes);
      });
      while (b.size > 0) out.push(b.take().bytes);
      for (const batch of out) if (batch.length > 1) expect(batch.reduce((s, x) => s + x, 0)).toBeLessThanOrEqual(budget);
      expect(out.flat().length).toBe(sizes.length);
    }));
  });
  it('property: columns match a record-per-key model through merges, values, acks, withdrawals, splits and put-backs', () => {
    type Rec = { key: string; version: number; hasValue: boolean; value: unknown; ack: boolean; bytes: number; owner: object | undefined };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), k: fc.integer({ min: 0, max: 12 }), bytes: fc.integer({ min: 1, max: 60 }), value: fc.option(fc.integer(), { nil: undefined }), ack: fc.boolean(), owned: fc.boolean() }),
      fc.record({ kind: fc.constant('withdraw' as const), k: fc.integer({ min: 0, max: 12 }) }),
      fc.record({ kind: fc.constant('take' as const), keep: fc.integer({ min: 0, max: 5 }) }),
    );
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 30, max: 300 }), fc.array(op, { maxLength: 120 }), (size, budget, ops) => {
      const b = new Batcher({ size, bytes: budget });
      let model: Rec[] = [];
      const owners = new Map<string, object>();
      let t = 0;
      for (const o of ops) {
        if (o.kind === 'add') {
          const key = `k${o.k}`;
          const owner = o.owned ? {} : undefined;
          const cur = model.find((r) => r.key === key);
          expect(b.add(key, ++t, o.value !== undefined, o.value, o.ack, o.bytes, owner)).toBe(cur !== undefined);
          if (cur) Object.assign(cur, { version: t, hasValue: o.value !== undefined, value: o.value, ack: cur.ack || o.ack, bytes: o.bytes, owner: undefined });
          else {
            model.push({ key, version: t, hasValue: o.value !== undefined, value: o.value, ack: o.ack, bytes: o.bytes, owner });
            if (owner) owners.set(key, owner);
          }
        } else if (o.kind === 'withdraw') {
          const key = `k${o.k}`;
          const owner = owners.get(key) ?? {};
          const cur = model.find((r) => r.key === key);
          const ok = cur !== undefined && cur.owner === owner;
          expect(b.withdraw(key, owner)).toBe(ok);
          if (ok) model = model.filter((r) => r !== cur);
        } else if (b.size > 0) {
          // The model's take: the oldest, at most `size` and `budget` (at least one).
          let n = 0;
          let sum = 0;
          while (n < model.length && n < size && (n === 0 || sum + model[n]!.bytes <= budget)) sum += model[n++]!.bytes;
          const got = b.take();
          expect(got.keys).toEqual(model.slice(0, n).map((r) => r.key));
          got.keys.forEach((_, i) => {
            const r = model[i]!;
            const f = got.flags?.[i] ?? 0;
            expect([got.versions[i], (f & HAS_VALUE) !== 0, (f & ACK) !== 0, got.bytes[i]]).toEqual([r.version, r.hasValue, r.ack, r.bytes]);
            if (r.hasValue) expect(got.values![i]).toBe(r.value);
          });
          // Send some, put the rest back in front (the sender's split).
          const sent = Math.min(n, Math.max(1, n - o.keep));
          if (sent < n) b.putBack(got, sent);
          model = [...model.slice(sent, n), ...model.slice(n)];
        }
        expect(b.size).toBe(model.length);
        expect(b.bytes).toBe(model.reduce((a, r) => a + r.bytes, 0));
      }
    }), { numRuns: 300 });
  });
});

describe('batch sizer', () => {
  /** A PacketFit over a codec, wrapping the payload the way a broadcast message does (an array with the worst id and hops). */
  const fitOf = (codec: { encode(v: unknown): Uint8Array }) => ({
    measure: (v: unknown) => codec.encode(v).length,
    messageBytes: (type: number, p: unknown) => codec.encode([1, type, 'origin-node', 2 ** 53 - 1, 255, p]).length,
    // The sizer never sends; prepare is here only so the object is a whole PacketFit.
    prepare: (type: number, p: unknown) => ({ bytes: codec.encode([1, type, 'origin-node', 2 ** 53 - 1, 255, p]).length, send: () => 0 }),
    fits: () => true,
    payloadBudget: 1400,
    maxMessageBytes: 1400,
  });

  it('property: with msgpack, a bare batch and every prefix cut are sized exactly as the codec encodes them', async () => {
    const { BatchSizer } = await import('../src/batch-sizer.js');
    const { utf8Length } = await import('@grapevine/core');
    const fit = fitOf(msgpackCodec);
    const sizer = new BatchSizer(fit, 65000);
    expect(sizer.exact).toBe(true);
    const version = fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.integer({ min: -300, max: 300 }), fc.constant(Date.now() * 1024));
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.string({ unit: 'binary', maxLength: 40 }), version), { minLength: 1, maxLength: 60 }),
      fc.nat(), fc.nat(), fc.integer({ min: 30, max: 1500 }),
      (events, run, first, max) => {
        const keys = events.map(([k]) => k);
        const versions = events.map(([, v]) => v);
        const lens = keys.map(utf8Length);
        const wire = (n: number) => {
          let prev = 0;
          return [2, run, first, keys.slice(0, n), versions.slice(0, n).map((v) => { const d = v - prev; prev = v; return d; })];
        };
        expect(sizer.bare(run, first, lens, versions, keys.length)).toBe(fit.messageBytes(65000, wire(keys.length)));
        const n = sizer.prefix(run, first, lens, versions, keys.length, max);
        expect(n).toBeGreaterThanOrEqual(1);
        expect(sizer.lastBytes).toBe(fit.messageBytes(65000, wire(n)));
        // The longest prefix that fits (one event even when it alone does not).
        if (n > 1) expect(sizer.lastBytes).toBeLessThanOrEqual(max);
        if (n < keys.length) expect(fit.messageBytes(65000, wire(n + 1))).toBeGreaterThan(max);
      },
    ), { numRuns: 300 });
    expect(sizer.prefix(1, 1, [3, -1], [5, 6], 2, 1400)).toBe(-1); // a key of unknown length: measure instead
  });

  it('a codec the arithmetic does not match (JSON) is measured by encoding', async () => {
    const { BatchSizer } = await import('../src/batch-sizer.js');
    const { jsonCodec } = await import('@grapevine/core');
    expect(new BatchSizer(fitOf(jsonCodec), 65000).exact).toBe(false);
  });
});

describe('batcher across many batches', () => {
  it('property: through thousands of distinct keys, re-publishes and withdrawals, waiting keys match a set model', () => {
    fc.assert(fc.property(fc.integer(), (seed) => {
      let x = seed | 0;
      const rnd = (n: number): number => ((x = (Math.imul(x, 1103515245) + 12345) | 0) >>> 8) % n;
      const b = new Batcher({ size: 50, bytes: 100_000 });
      const waiting = new Map<string, object | undefined>();
      const take = (): void => {
        const t = b.take();
        expect(new Set(t.keys).size).toBe(t.keys.length);
        expect(new Set(t.keys)).toEqual(new Set(waiting.keys()));
        waiting.clear();
      };
      for (let i = 0; i < 30_000; i++) {
        const key = `k${rnd(i < 15_000 ? 12_000 : 40)}`; // many distinct keys first, then a few hot ones
        if (rnd(10) === 0 && waiting.has(key)) {
          expect(b.withdraw(key, waiting.get(key) ?? {})).toBe(waiting.get(key) !== undefined);
          if (waiting.get(key) !== undefined) waiting.delete(key);
        } else {
          const owner = waiting.has(key) ? undefined : {};
          add(b, key, 10, i, undefined, owner);
          waiting.set(key, waiting.has(key) ? undefined : owner);
        }
        expect(b.size).toBe(waiting.size);
        expect(b.has(key)).toBe(waiting.has(key));
        if (b.full()) take();
      }
      take();
    }), { numRuns: 3 });
  });
});
