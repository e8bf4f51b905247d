import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { codecConformance } from '@grapevine/testkit';
import { jsonCodec } from '../src/codec-json.js';

codecConformance('json', jsonCodec);

const text = (v: unknown): string => new TextDecoder().decode(jsonCodec.encode(v));
const parse = (s: string): unknown => jsonCodec.decode(new TextEncoder().encode(s));

describe('jsonCodec', () => {
  it('is codec 1, "json"', () => {
    expect(jsonCodec.id).toBe(1);
    expect(jsonCodec.name).toBe('json');
  });

  it('carries binary as {"$b": base64} with correct padding', () => {
    expect(text(new Uint8Array(0))).toBe('{"$b":""}');
    expect(text(Uint8Array.of(0x66))).toBe('{"$b":"Zg=="}');
    expect(text(Uint8Array.of(0x66, 0x6f))).toBe('{"$b":"Zm8="}');
    expect(text(Uint8Array.of(0x66, 0x6f, 0x6f))).toBe('{"$b":"Zm9v"}');
    expect(text(Uint8Array.of(0xfb, 0xff, 0xbf))).toBe('{"$b":"+/+/"}');
    expect(parse('{"$b":"Zm9vYg=="}')).toEqual(Uint8Array.of(0x66, 0x6f, 0x6f, 0x62));
  });

  it('matches the platform base64 for arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(text(bytes)).toBe(`{"$b":"${Buffer.from(bytes).toString('base64')}"}`);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses malformed base64', () => {
    for (const bad of ['A', 'AB', 'ABC', 'A===', '=AAA', 'AA=A', 'AB*D', 'ABCD====', 'Zg=', 'Zm9vYg=\u00e9', '\u0100AAA']) {
      expect(() => parse(`{"$b":"${bad}"}`), bad).toThrow(Error);
    }
  });

  it('leaves look-alike objects alone: $b with other keys or a non-string value', () => {
    expect(parse('{"$b":"Zg==","x":1}')).toEqual({ $b: 'Zg==', x: 1 });
    expect(parse('{"$b":5}')).toEqual({ $b: 5 });
  });

  it('round-trips objects whose only key is "$b" or "$o"', () => {
    for (const v of [{ $b: 'Zg==' }, { $b: 'not base64!' }, { $o: 1 }, { $o: [['$b', 'x']] }, [{ $b: '' }], { a: { $b: 'AAAA' } }]) {
      expect(jsonCodec.decode(jsonCodec.encode(v)), JSON.stringify(v)).toEqual(v);
    }
  });

  it('escapes them on the wire and refuses malformed escapes', () => {
    expect(text({ $b: 'x' })).toBe('{"$o":["$b","x"]}');
    expect(text({ $o: { $b: 'Zg==' } })).toBe('{"$o":["$o",{"$o":["$b","Zg=="]}]}');
    for (const bad of ['{"$o":1}', '{"$o":[]}', '{"$o":["x",1]}', '{"$o":["$b"]}', '{"$o":["$b",1,2]}']) {
      expect(() => parse(bad), bad).toThrow(Error);
    }
  });

  it('encodes Uint8Array subclasses with a toJSON (Node Buffer) as binary', () => {
    const buf = Buffer.from([1, 2, 3]);
    expect(jsonCodec.decode(jsonCodec.encode({ buf }))).toEqual({ buf: Uint8Array.of(1, 2, 3) });
  });

  it('refuses invalid UTF-8 and non-JSON', () => {
    expect(() => jsonCodec.decode(Uint8Array.of(0x22, 0xff, 0x22))).toThrow(Error);
    expect(() => parse('{"a":1')).toThrow(Error);
    expect(() => parse('')).toThrow(Error);
  });
});
