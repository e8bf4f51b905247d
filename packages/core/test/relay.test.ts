import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsonCodec, type Codec } from '../src/index.js';
import { LiveOrder } from '../src/messaging/live-order.js';
import { MIN_REFRAME_BYTES, Relay } from '../src/messaging/relay.js';
import { userToWire, type GossipMsg } from '../src/messaging/user-wire.js';

const gossip = (payload: unknown, hops = 5, origin = 'node-a', id = 1234567): GossipMsg => ({ s: 1, type: 65000, origin, id, hops, payload });
const bytes = (codec: Codec, m: GossipMsg): Uint8Array => codec.encode(userToWire(m));
/** Makes a payload long enough to be reframed rather than re-encoded. */
const pad = 'p'.repeat(MIN_REFRAME_BYTES);

describe('Relay.reframe', () => {
  it('gives exactly the encoding of the message with one hop less (JSON)', () => {
    const relay = new Relay(jsonCodec);
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 2, max: 255 }), fc.string({ minLength: 1, maxLength: 30 }), fc.maxSafeNat(), (payload, hops, origin, id) => {
        const m = gossip([pad, payload], hops, origin, id);
        const out = relay.reframe(m, bytes(jsonCodec, m));
        expect(out).toBeDefined();
        expect(new TextDecoder().decode(out)).toBe(new TextDecoder().decode(bytes(jsonCodec, { ...m, hops: hops - 1 })));
      }),
      { numRuns: 200 },
    );
    expect(relay.mismatched).toBe(0);
  });

  it('keeps the payload bytes as they arrived, binary included', () => {
    const relay = new Relay(jsonCodec);
    const payload = [pad, 1, 'k', { $b: 'not binary' }, new Uint8Array([0, 255, 7])];
    const m = gossip(payload, 3);
    const out = relay.reframe(m, bytes(jsonCodec, m))!;
    expect(jsonCodec.decode(out)).toEqual(userToWire({ ...m, hops: 2 }));
  });

  it('declines bytes another encoder wrote differently, so the caller re-encodes', () => {
    const relay = new Relay(jsonCodec);
    const m = gossip([pad, 1, 2, 3]);
    // Same value, with whitespace: valid JSON, not this codec's framing.
    const spaced = new TextEncoder().encode(JSON.stringify(userToWire(m), null, 1));
    expect(jsonCodec.decode(spaced)).toEqual(userToWire(m));
    expect(relay.reframe(m, spaced)).toBeUndefined();
    // A header that does not match the decoded message (hops differ) is declined too.
    expect(relay.reframe({ ...m, hops: 9 }, bytes(jsonCodec, m))).toBeUndefined();
    expect(relay.mismatched).toBe(2);
  });

  it('declines with a codec that does not frame arrays', () => {
    const plain: Codec = { id: 99, name: 'plain', encode: jsonCodec.encode, decode: jsonCodec.decode };
    const m = gossip(pad);
    expect(new Relay(plain).reframe(m, bytes(plain, m))).toBeUndefined();
  });

  it('leaves small parts to re-encoding (cheaper than two header frames), not counted as a mismatch', () => {
    const relay = new Relay(jsonCodec);
    const small = gossip('x');
    expect(bytes(jsonCodec, small).length).toBeLessThan(MIN_REFRAME_BYTES);
    expect(relay.reframe(small, bytes(jsonCodec, small))).toBeUndefined();
    expect(relay.mismatched).toBe(0);
    const big = gossip(pad);
    expect(relay.reframe(big, bytes(jsonCodec, big))).toBeDefined();
  });
});

describe('Relay.rehead', () => {
  it('turns the encoding of [...from, payload] into exactly the encoding of [...to, payload], at any size', () => {
    const relay = new Relay(jsonCodec);
    const head = fc.tuple(fc.integer({ min: 128, max: 0xffff }), fc.string({ minLength: 1, maxLength: 30 }), fc.maxSafeNat(), fc.nat(255));
    fc.assert(
      fc.property(head, head, fc.jsonValue(), ([t1, o1, i1, h1], [t2, o2, i2, h2], payload) => {
        const from = [9, 1, t1, o1, i1, h1];
        const to = [9, 1, t2, o2, i2, h2];
        const out = relay.rehead(from, to, jsonCodec.encode([...from, payload]));
        expect(out).toBeDefined();
        expect(new TextDecoder().decode(out)).toBe(new TextDecoder().decode(jsonCodec.encode([...to, payload])));
      }),
      { numRuns: 200 },
    );
    expect(relay.mismatched).toBe(0);
  });
});

describe('LiveOrder', () => {
  it('stays the sorted set of live names through any sequence of changes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'n10', 'n2', 'ä'), fc.boolean()), { maxLength: 60 }), (ops) => {
        const order = new LiveOrder(['self']);
        const model = new Set(['self']);
        for (const [name, live] of ops) {
          order.set(name, live);
          if (live) model.add(name);
          else model.delete(name);
          expect(order.names).toEqual([...model].sort());
          expect(order.has(name)).toBe(live);
        }
        expect(order.size).toBe(model.size);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps has() and size exact while names wait unmerged, and reads them sorted (thousands of changes between reads)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.boolean(), fc.boolean()), { minLength: 500, maxLength: 4000 }), (ops) => {
        const order = new LiveOrder();
        const model = new Set<string>();
        for (const [i, live, read] of ops) {
          const name = `m${i}`;
          order.set(name, live);
          if (live) model.add(name);
          else model.delete(name);
          expect(order.has(name)).toBe(live);
          expect(order.size).toBe(model.size);
          if (read && i % 97 === 0) expect(order.names).toEqual([...model].sort());
        }
        expect(order.names).toEqual([...model].sort());
      }),
      { numRuns: 30 },
    );
  });
});
