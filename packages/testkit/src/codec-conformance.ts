import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Codec } from '@grapevine/core';

/**
 * The one round-trip and bad-input suite every Codec passes. Values are "protocol-shaped": what
 * the Codec interface promises to carry (null, booleans, finite numbers, well-formed strings,
 * Uint8Array, arrays and string-keyed plain objects).
 */

export interface CodecConformanceOptions {
  /** Runs per property; default 200. */
  numRuns?: number;
}

// Keys include the JSON codec's markers, so an escape scheme is exercised too.
const objectKey = fc.oneof(
  { weight: 8, arbitrary: fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__') },
  { weight: 1, arbitrary: fc.constantFrom('$b', '$o', '__proto_', 'constructor', 'toString') },
);

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  // -0 is not a protocol value: JSON and msgpack both carry it as 0.
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x)),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 16 }),
  fc.string({ unit: 'binary-ascii', maxLength: 16 }),
  fc.uint8Array({ maxLength: 48 }),
);

/** Arbitrary protocol-shaped values: nested arrays/objects of the leaf types above. */
export const arbProtocolValue: fc.Arbitrary<unknown> = fc.letrec<{
  value: unknown;
  array: unknown[];
  object: Record<string, unknown>;
}>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  object: fc.dictionary(objectKey, tie('value'), { maxKeys: 6, noNullPrototype: true }),
})).value;

/** True when v is made only of the types a codec may yield. */
export function isProtocolValue(v: unknown, depth = 0): boolean {
  if (depth > 10_000) return false;
  if (v === null) return true;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  if (t !== 'object') return false;
  if (v instanceof Uint8Array) return true;
  if (Array.isArray(v)) return v.every((x) => isProtocolValue(x, depth + 1));
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.keys(v as object).every((k) => isProtocolValue((v as Record<string, unknown>)[k], depth + 1));
}

const objectProtoNames = (): string => Object.getOwnPropertyNames(Object.prototype).sort().join(',');
const arrayProtoNames = (): string => Object.getOwnPropertyNames(Array.prototype).sort().join(',');

function expectPrototypesIntact(objectNames: string, arrayNames: string): void {
  expect(objectProtoNames()).toBe(objectNames);
  expect(arrayProtoNames()).toBe(arrayNames);
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
}

/**
 * Decodes bytes; returns normally when the codec either decoded a protocol-shaped value or threw an
 * Error. Anything else (a thrown non-Error, a non-protocol value, a polluted prototype) fails.
 */
function decodeOrError(codec: Codec, bytes: Uint8Array, objectNames: string, arrayNames: string): void {
  let value: unknown;
  let threw = false;
  try {
    value = codec.decode(bytes);
  } catch (err) {
    threw = true;
    if (!(err instanceof Error)) throw new Error(`decode threw a non-Error: ${String(err)}`);
  }
  if (!threw && !isProtocolValue(value)) throw new Error('decode returned a value outside the protocol model');
  expectPrototypesIntact(objectNames, arrayNames);
}

function bytesOf(values: readonly number[]): Uint8Array {
  return Uint8Array.from(values);
}

function seq(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

/** Hand-picked values around encoding boundaries (int widths, string/bin/array/map length classes). */
const edgeValues: Array<[string, unknown]> = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['small ints', [0, 1, -1, 127, 128, -32, -33, 255, 256, -128, -129, 65535, 65536, -32768, -32769]],
  ['32-bit edges', [2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32)]],
  ['safe integer edges', [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 52, -(2 ** 52)]],
  ['floats', [0.5, -0.5, 0.1, 1e-7, 1e21, 1.7976931348623157e308, 5e-324, -5e-324, Math.PI]],
  ['strings', ['', 'a', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'ünïcödé 🎉 中文', '\u0000\n"\\$b']],
  ['long string', 'y'.repeat(70_000)],
  ['binary', [new Uint8Array(0), bytesOf([0]), bytesOf([1, 2]), bytesOf([1, 2, 3]), bytesOf([255, 254, 253, 252]), seq(256)]],
  ['long binary', seq(70_000)],
  ['arrays', [[], [[]], [[[]]], new Array(15).fill(1), new Array(16).fill(2), new Array(65_536).fill(0)]],
  ['objects', [{}, { a: {} }, Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i]))]],
  ['keys that look special', { $b: 1, constructor: 2, toString: 'x', hasOwnProperty: null, '': 0, '0': 'zero' }],
  ['object that looks like JSON binary', { $b: 'AAEC' }],
  ['protocol message', [1, 42, 'node-001', 'node-002', '127.0.0.1:20001', { meta: { dc: 'eu-1' }, key: bytesOf([9, 8, 7]) }]],
];

export function codecConformance(name: string, codec: Codec, options: CodecConformanceOptions = {}): void {
  const numRuns = options.numRuns ?? 200;

  describe(`codec conformance: ${name}`, () => {
    it('has a one-byte id outside the reserved range and a name', () => {
      expect(Number.isInteger(codec.id)).toBe(true);
      expect(codec.id).toBeGreaterThanOrEqual(1);
      expect(codec.id).toBeLessThanOrEqual(127);
      expect(typeof codec.name).toBe('string');
      expect(codec.name.length).toBeGreaterThan(0);
    });

    it.each(edgeValues)('round-trips edge values: %s', (_label, value) => {
      const bytes = codec.encode(value);
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(codec.decode(bytes)).toEqual(value);
    });

    it('round-trips arbitrary protocol-shaped values', () => {
      fc.assert(
        fc.property(arbProtocolValue, (value) => {
          const bytes = codec.encode(value);
          expect(bytes).toBeInstanceOf(Uint8Array);
          expect(codec.decode(bytes)).toEqual(value);
        }),
        { numRuns },
      );
    });

    it('decodes binary as Uint8Array with the right bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bin) => {
          const out = codec.decode(codec.encode({ bin, list: [bin] })) as { bin: unknown; list: unknown[] };
          expect(out.bin).toBeInstanceOf(Uint8Array);
          expect(Array.from(out.bin as Uint8Array)).toEqual(Array.from(bin));
          expect(out.list[0]).toBeInstanceOf(Uint8Array);
        }),
        { numRuns: Math.min(numRuns, 100) },
      );
    });

    it('decodes from a view at any offset into a larger buffer', () => {
      fc.assert(
        fc.property(arbProtocolValue, fc.nat(9), fc.nat(9), (value, before, after) => {
          const bytes = codec.encode(value);
          const big = new Uint8Array(before + bytes.length + after).fill(0xc1);
          big.set(bytes, before);
          expect(codec.decode(big.subarray(before, before + bytes.length))).toEqual(value);
        }),
        { numRuns: Math.min(numRuns, 100) },
      );
    });

    it('frameArray, when offered: before ++ encode(last) ++ after is encode([...head, last])', () => {
      if (!codec.frameArray) return;
      const frame = codec.frameArray.bind(codec);
      // Headers as the messenger relays them (small numbers and strings), and the edge of none.
      const arbHead = fc.array(fc.oneof(fc.nat(), fc.maxSafeNat(), fc.string({ maxLength: 40 }), fc.constant(null)), { maxLength: 8 });
      fc.assert(
        fc.property(arbHead, arbProtocolValue, (head, last) => {
          const f = frame(head);
          if (!f) return;
          const enc = codec.encode(last);
          const joined = new Uint8Array(f.before.length + enc.length + f.after.length);
          joined.set(f.before, 0);
          joined.set(enc, f.before.length);
          joined.set(f.after, f.before.length + enc.length);
          expect(Array.from(joined)).toEqual(Array.from(codec.encode([...head, last])));
        }),
        { numRuns },
      );
    });

    // Only for codecs that offer the peek: a codec without it is read by decode() alone.
    if (codec.peekArray) {
      const peek = codec.peekArray.bind(codec);
      const headItem = fc.oneof(
        fc.nat(), fc.maxSafeNat(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x)),
        fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constant(null), fc.uint8Array({ maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 3 }),
      );
      const arbArray = fc.tuple(fc.array(headItem, { maxLength: 8 }), fc.array(arbProtocolValue, { maxLength: 3 })).map(([h, t]) => [...h, ...t]);

      it('peekArray: the leading elements it reads are those decode gives, never more than asked', () => {
        fc.assert(
          fc.property(arbArray, fc.nat(10), (array, count) => {
            const bytes = codec.encode(array);
            const out: unknown[] = [];
            const n = peek(bytes, count, out);
            expect(Number.isInteger(n) && n >= 0 && n <= Math.min(count, array.length)).toBe(true);
            expect(out.slice(0, n)).toEqual((codec.decode(bytes) as unknown[]).slice(0, n));
          }),
          { numRuns },
        );
      });

      it('peekArray reads a broadcast header [9, 1, type, origin, id, hops] in full', () => {
        const origin = fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/), fc.constantFrom('nœud-ü', '节点-3', 'node-🎉', 'x'.repeat(255)));
        fc.assert(
          fc.property(fc.integer({ min: 128, max: 0xffff }), origin, fc.maxSafeNat(), fc.nat(255), arbProtocolValue, (type, name, id, hops, payload) => {
            const out: unknown[] = [];
            expect(peek(codec.encode([9, 1, type, name, id, hops, payload]), 6, out)).toBe(6);
            expect(out.slice(0, 6)).toEqual([9, 1, type, name, id, hops]);
          }),
          { numRuns },
        );
      });

      it('peekArray on every truncation of an array reads only its true leading elements', () => {
        fc.assert(
          fc.property(arbArray, (array) => {
            const bytes = codec.encode(array);
            const out: unknown[] = [];
            for (let len = 0; len < bytes.length; len++) {
              const n = peek(bytes.subarray(0, len), 8, out);
              expect(n >= 0 && n <= 8).toBe(true);
              expect(out.slice(0, n)).toEqual(array.slice(0, n));
            }
          }),
          { numRuns: Math.min(numRuns, 100) },
        );
      });

      it('peekArray never throws on arbitrary or edited bytes, and agrees with decode where it succeeds', () => {
        const check = (bytes: Uint8Array, count: number): void => {
          const out: unknown[] = [];
          const n = peek(bytes, count, out);
          expect(Number.isInteger(n) && n >= 0 && n <= count).toBe(true);
          let decoded: unknown;
          try {
            decoded = codec.decode(bytes);
          } catch {
            return;
          }
          if (Array.isArray(decoded)) expect(out.slice(0, n)).toEqual(decoded.slice(0, n));
          else expect(n).toBe(0);
        };
        fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(8), (bytes, count) => check(bytes, count)), { numRuns: numRuns * 5 });
        fc.assert(
          fc.property(arbArray, fc.nat(), fc.nat(255), fc.nat(8), (array, at, byte, count) => {
            const bytes = Uint8Array.from(codec.encode(array));
            if (bytes.length > 0) bytes[at % bytes.length] = byte;
            check(bytes, count);
          }),
          { numRuns: numRuns * 2 },
        );
      });
    }

    it('treats undefined object properties as absent', () => {
      expect(codec.decode(codec.encode({ a: 1, b: undefined }))).toEqual({ a: 1 });
    });

    it('a "__proto__" key never changes a prototype', () => {
      const objectNames = objectProtoNames();
      const arrayNames = arrayProtoNames();
      const evil = JSON.parse('{"__proto__":{"polluted":"yes"},"k":1}') as Record<string, unknown>;
      const cases: Array<[unknown, (out: unknown) => unknown]> = [
        [evil, (o) => o],
        [[evil], (o) => (o as unknown[])[0]],
        [{ nested: evil }, (o) => (o as Record<string, unknown>)['nested']],
      ];
      for (const [value, pick] of cases) {
        const decoded = pick(codec.decode(codec.encode(value))) as Record<string, unknown>;
        expectPrototypesIntact(objectNames, arrayNames);
        const proto: unknown = Object.getPrototypeOf(decoded);
        expect(proto === Object.prototype || proto === null).toBe(true);
        expect(decoded['polluted']).toBeUndefined();
        expect(decoded['k']).toBe(1);
      }
    });

    it('arbitrary bytes decode to a protocol value or throw an Error', () => {
      const objectNames = objectProtoNames();
      const arrayNames = arrayProtoNames();
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
          decodeOrError(codec, bytes, objectNames, arrayNames);
        }),
        { numRuns: numRuns * 5 },
      );
    });

    it('every truncation of a valid encoding decodes or throws an Error', () => {
      const objectNames = objectProtoNames();
      const arrayNames = arrayProtoNames();
      fc.assert(
        fc.property(arbProtocolValue, (value) => {
          const bytes = codec.encode(value);
          const step = Math.max(1, Math.floor(bytes.length / 64));
          for (let n = 0; n < bytes.length; n += step) decodeOrError(codec, bytes.subarray(0, n), objectNames, arrayNames);
        }),
        { numRuns },
      );
    });

    it('bit flips, insertions and extensions of valid encodings decode or throw an Error', () => {
      const objectNames = objectProtoNames();
      const arrayNames = arrayProtoNames();
      const edit = fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
        fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
        fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
      );
      fc.assert(
        fc.property(arbProtocolValue, fc.array(edit, { minLength: 1, maxLength: 4 }), (value, edits) => {
          let bytes = Uint8Array.from(codec.encode(value));
          for (const e of edits) {
            if (e.kind === 'append') {
              const grown = new Uint8Array(bytes.length + e.bytes.length);
              grown.set(bytes);
              grown.set(e.bytes, bytes.length);
              bytes = grown;
            } else if (bytes.length > 0) {
              const at = e.at % bytes.length;
              bytes[at] = e.kind === 'flip' ? bytes[at]! ^ (1 << e.bit) : e.byte;
            }
          }
          decodeOrError(codec, bytes, objectNames, arrayNames);
        }),
        { numRuns: numRuns * 2 },
      );
    });
  });
}
