import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GrapevineError, jsonCodec } from '@grapevine/core';
import { codecConformance, isProtocolValue } from '@grapevine/testkit';
import { createMsgpackCodec, msgpackCodec } from '@grapevine/codec-msgpack';

codecConformance('msgpack', msgpackCodec);
codecConformance('msgpack (binary as views)', createMsgpackCodec({ copyBinary: false }), { numRuns: 50 });

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
type Part = number | Part[];
const u8 = (...parts: Part[]): Uint8Array => Uint8Array.from(parts.flat(4) as number[]);
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

function expectDecodeError(bytes: Uint8Array, codec = msgpackCodec): GrapevineError {
  let caught: unknown;
  try {
    codec.decode(bytes);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(GrapevineError);
  expect((caught as GrapevineError).code).toBe('ERR_DECODE');
  return caught as GrapevineError;
}

describe('msgpackCodec', () => {
  it('is codec 2, "msgpack"', () => {
    expect(msgpackCodec.id).toBe(2);
    expect(msgpackCodec.name).toBe('msgpack');
  });

  it('encodes standard, compact MessagePack', () => {
    const msg = [1, 42, 'node-001', 'node-002', '127.0.0.1:20001'];
    const bytes = msgpackCodec.encode(msg);
    // fixarray, 2 fixints, 2 × (fixstr 8), fixstr 15
    expect(bytes.length).toBe(1 + 1 + 1 + 9 + 9 + 16);
    expect(bytes.length).toBeLessThan(jsonCodec.encode(msg).length);
    expect(hex(msgpackCodec.encode([1, 'a', true, null, false]))).toBe('95 01 a1 61 c3 c0 c2');
    expect(hex(msgpackCodec.encode({ a: 1 }))).toBe('81 a1 61 01'); // fixmap, not map16
    expect(hex(msgpackCodec.encode({}))).toBe('80');
    expect(hex(msgpackCodec.encode(u8(1, 2)))).toBe('c4 02 01 02'); // bin 8
    expect(hex(msgpackCodec.encode(-1))).toBe('ff');
    expect(hex(msgpackCodec.encode(300))).toBe('cd 01 2c');
    expect(hex(msgpackCodec.encode(0.5))).toBe('cb 3f e0 00 00 00 00 00 00');
    // a membership-sized message stays small
    const alive = [3, { n: 'node-001', a: '10.0.0.1:7946', i: 12, m: { dc: 'eu-1' } }];
    expect(msgpackCodec.encode(alive).length).toBeLessThanOrEqual(44);
  });

  it('writes undefined like JSON does: absent in objects, nil in arrays', () => {
    expect(hex(msgpackCodec.encode({ a: undefined, b: 1 }))).toBe('81 a1 62 01');
    expect(hex(msgpackCodec.encode([undefined]))).toBe('91 c0');
  });

  it('reads what other MessagePack writers produce', () => {
    expect(msgpackCodec.decode(u8(0xde, 0x00, 0x01, 0xa1, 0x61, 0x01))).toEqual({ a: 1 }); // map16
    expect(msgpackCodec.decode(u8(0xdc, 0x00, 0x02, 0xc0, 0xc3))).toEqual([null, true]); // array16
    expect(msgpackCodec.decode(u8(0xd9, 0x02, ascii('hi')))).toBe('hi'); // str8
    expect(msgpackCodec.decode(u8(0xca, 0x3f, 0xc0, 0x00, 0x00))).toBe(1.5); // float32
    // 64-bit integers come out as numbers, never BigInt
    expect(msgpackCodec.decode(u8(0xcf, 0, 0, 0, 1, 0, 0, 0, 0))).toBe(2 ** 32);
    expect(msgpackCodec.decode(u8(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe))).toBe(-2);
    expect(typeof msgpackCodec.decode(u8(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))).toBe('number');
    // map keys that are numbers become strings
    expect(msgpackCodec.decode(u8(0x81, 0x07, 0xa1, 0x78))).toEqual({ '7': 'x' });
  });

  it('round-trips safe integers exactly', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        expect(msgpackCodec.decode(msgpackCodec.encode(n))).toBe(n);
      }),
      { numRuns: 300 },
    );
  });

  it('returns binary as plain Uint8Array copies, even from a Buffer-like subclass input', () => {
    class Sub extends Uint8Array {}
    const enc = msgpackCodec.encode({ k: u8(1, 2, 3) });
    const input = new Sub(enc.length);
    input.set(enc);
    const out = msgpackCodec.decode(input) as { k: Uint8Array };
    expect(out.k.constructor).toBe(Uint8Array);
    input.fill(0);
    expect(Array.from(out.k)).toEqual([1, 2, 3]); // not a view into the input
    expect(Object.hasOwn(input, 'dataView')).toBe(false); // msgpackr's DataView cache is not left on the input
    const view = createMsgpackCodec({ copyBinary: false }).decode(Uint8Array.from(enc)) as { k: Uint8Array };
    expect(view.k.constructor).toBe(Uint8Array);
    expect(Array.from(view.k)).toEqual([1, 2, 3]);
  });

  it('refuses trailing bytes, truncation and empty input', () => {
    const enc = msgpackCodec.encode([1, 42, 'node-001']);
    expectDecodeError(u8(Array.from(enc), 0x00));
    expectDecodeError(u8(0x01, 0x02));
    for (let n = 0; n < enc.length; n++) expectDecodeError(enc.subarray(0, n));
    expectDecodeError(new Uint8Array(0));
  });

  it('refuses every strict prefix and every extension of arbitrary encodings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.integer(), fc.uint8Array({ maxLength: 20 }), fc.double())),
        fc.uint8Array({ minLength: 1, maxLength: 4 }),
        (value, extra) => {
          const enc = msgpackCodec.encode(value);
          for (let n = 0; n < enc.length; n++) expectDecodeError(enc.subarray(0, n));
          expectDecodeError(u8(Array.from(enc), Array.from(extra)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses length headers longer than the input before allocating', () => {
    const hostile = (...head: number[]): Uint8Array => {
      const b = new Uint8Array(10);
      b.set(head);
      return b;
    };
    const started = performance.now();
    expectDecodeError(hostile(0xdd, 0xff, 0xff, 0xff, 0xff)); // array32 of 2^32-1
    expectDecodeError(hostile(0xdf, 0xff, 0xff, 0xff, 0xff)); // map32
    expectDecodeError(hostile(0xdc, 0xff, 0xff)); // array16
    expectDecodeError(hostile(0xdb, 0xff, 0xff, 0xff, 0xff)); // str32
    expectDecodeError(hostile(0xc6, 0xff, 0xff, 0xff, 0xff)); // bin32
    expectDecodeError(hostile(0xc9, 0xff, 0xff, 0xff, 0xff, 0x01)); // ext32
    // nested array16 headers each claiming 0xdcdc elements: the per-decode budget stops them
    expectDecodeError(new Uint8Array(60_000).fill(0xdc));
    expectDecodeError(new Uint8Array(60_000).fill(0xde));
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('refuses nesting deeper than maxDepth, and survives stack-exhausting input', () => {
    const nested = (depth: number): Uint8Array => u8(new Array<number>(depth).fill(0x91), 0xc0);
    expect(msgpackCodec.decode(nested(64))).toBeDefined();
    expectDecodeError(nested(65));
    expectDecodeError(nested(1_000_000)); // msgpackr recursion overflows the stack: still ERR_DECODE
    expect(msgpackCodec.decode(msgpackCodec.encode([1, 'ok']))).toEqual([1, 'ok']); // and state is clean
    const shallow = createMsgpackCodec({ maxDepth: 2 });
    expect(shallow.decode(shallow.encode([[1], { a: 2 }]))).toEqual([[1], { a: 2 }]);
    expectDecodeError(shallow.encode([[[1]]]), shallow);
    expectDecodeError(shallow.encode({ a: { b: {} } }), shallow);
    expect(() => createMsgpackCodec({ maxDepth: 0 })).toThrow(GrapevineError);
  });

  it('refuses extension types and non-protocol values', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['undefined (ext 0)', u8(0xd4, 0x00, 0x00)],
      ['bigint (ext 0x42)', u8(0xd4, 0x42, 0x05)],
      ['timestamp (ext -1)', u8(0xd6, 0xff, 0, 0, 0, 1)],
      ['set', u8(0xd4, 0x73, 0x00, 0x91, 0x01)],
      ['regexp', u8(0xd4, 0x78, 0x00, 0x92, 0xa1, 0x61, 0xa0)],
      ['error', u8(0xd4, 0x65, 0x00, 0x92, 0xa1, 0x61, 0xa0)],
      ['typed array', u8(0xc7, 0x05, 0x74, 0x06, 1, 0, 0, 0)],
      ['structured clone id', u8(0xd6, 0x69, 0, 0, 0, 1, 0x91, 0xd6, 0x70, 0, 0, 0, 1)],
      ['unknown ext', u8(0xd4, 0x05, 0x00)],
      ['0xc1 (never used)', u8(0xc1)],
      ['nested inside a map', u8(0x81, 0xa1, 0x61, 0xd4, 0x00, 0x00)],
      ['timestamp as a map key', u8(0x81, 0xd6, 0xff, 0, 0, 0, 1, 0x01)],
      ['array as a map key', u8(0x81, 0x91, 0x01, 0x01)],
    ];
    for (const [label, bytes] of cases) {
      expect(() => msgpackCodec.decode(bytes), label).toThrow(GrapevineError);
      expectDecodeError(bytes);
    }
  });

  it('fuzz biased to msgpackr-specific tokens: decodes to protocol values or throws ERR_DECODE', () => {
    // record definitions (d4/d5 72), record references (0x40..0x7f), bundled strings (ext 0x62),
    // structured-clone ids/pointers, 0xc1, 32-bit length headers, fixmaps with "__proto__" keys
    const token = fc.oneof(
      fc.constantFrom([0xd4, 0x72, 0x40], [0xd5, 0x72, 0x40, 0x00], [0xc7, 0x04, 0x62, 0, 0, 0, 9], [0xd6, 0x62, 0, 0, 0, 9]),
      fc.constantFrom([0xd6, 0x69, 0, 0, 0, 1], [0xd6, 0x70, 0, 0, 0, 1], [0xc1], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xdf, 0, 0, 0, 2]),
      fc.constantFrom([0x81, 0xa9, ...ascii('__proto__')], [0x91, 0xa9, ...ascii('__proto__')], [0x92], [0x82], [0xa1, 0x61]),
      fc.integer({ min: 0x40, max: 0x7f }).map((b) => [b]),
      fc.nat(255).map((b) => [b]),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 24 }), (tokens) => {
        const bytes = u8(tokens);
        let value: unknown;
        try {
          value = msgpackCodec.decode(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(GrapevineError);
          return;
        }
        expect(isProtocolValue(value)).toBe(true);
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('__proto_');
  });

  it('never lets "__proto__" keys alter a prototype, in maps or msgpackr records', () => {
    const protoKey = [0xa9, ascii('__proto__')];
    const polluted = [0x81, 0xa8, ascii('polluted'), 0xc3];
    const fromMap = msgpackCodec.decode(u8(0x81, protoKey, polluted)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(fromMap)).toBe(Object.prototype);
    expect(fromMap['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    // msgpackr's non-standard record extension (0xd4 0x72) is still read; a record with a
    // "__proto__" field, used enough times to take msgpackr's generated-code path.
    const record = u8(0x95, 0xd4, 0x72, 0x40, 0x91, protoKey, polluted, [0x40, polluted], [0x40, polluted], [0x40, polluted], [0x40, polluted]);
    const out = msgpackCodec.decode(record) as Array<Record<string, unknown>>;
    expect(out).toHaveLength(5);
    for (const o of out) {
      expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
      expect(o['polluted']).toBeUndefined();
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});
