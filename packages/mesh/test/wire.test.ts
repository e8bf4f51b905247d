/**
 * The bus's wire checks: malformed messages refused, compact batches round-trip, the options table in docs/configuration.md.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { MESH_DEFAULTS } from '@grapevine/mesh';
import { msgpackCodec } from '@grapevine/codec-msgpack';
const pack = (v: unknown): Uint8Array => msgpackCodec.encode(v);
const unpack = (b: Uint8Array): unknown => msgpackCodec.decode(b);
import { parseBatch, parseFetch, parseFetchReply, parseHead, parseAck, batchToWire, batchToWireV1, isUnknownBatchFormat, type WireEvent } from '../src/wire.js';

describe('wire checks', () => {
  it('malformed messages are refused, never thrown on', () => {
    fc.assert(fc.property(fc.anything(), (v) => {
      expect(() => { parseBatch(v, 512); parseHead(v); parseFetch(v); parseFetchReply(v, 512); parseAck(v); }).not.toThrow();
    }), { numRuns: 500 });
    expect(parseFetch([1, 5, 0, 9, 0])).toEqual({ epoch: 1, from: 5, fresh: false, instance: 9, uptime: 0, to: 0 }); // an older bus's request
    expect(parseFetch([1, 5, 0, 9, 0, 8])?.to).toBe(8);
    expect(parseFetch([1, 5, 0, 9, 0, -1])).toBeUndefined();
    expect(parseFetch([1, 5, 0, 9, 0, 8, 1])).toBeUndefined();
    expect(parseBatch([1, 1, [['k', 1, 0]]], 512)).toBeDefined();
    expect(parseBatch([1, 0, [['k', 1, 0]]], 512)).toBeUndefined(); // sequence numbers start at 1
    expect(parseBatch([1, 1, []], 512)).toBeUndefined();
    expect(parseBatch([1, 1, [['x'.repeat(513), 1, 0]]], 512)).toBeUndefined();
    expect(parseBatch([1, 1, [['k', -1, 0]]], 512)).toBeUndefined();
    expect(parseBatch(batchToWire({ epoch: 3, first: 9, events: [{ key: 'a', version: 2, ack: true, hasValue: true, value: { x: 1 } }] }), 512))
      .toEqual({ epoch: 3, first: 9, events: [{ key: 'a', version: 2, ack: true, hasValue: true, value: { x: 1 } }] });
  });

  // Values the codec returns as given (msgpackr renames __proto__ keys and writes -0 as 0).
  const wireEvent = fc.record({ key: fc.string({ minLength: 1, maxLength: 8 }), version: fc.nat(), ack: fc.boolean(), value: fc.option(fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string()), fc.dictionary(fc.stringMatching(/^[a-z]{1,4}$/), fc.integer())), { nil: undefined }) })
    .map(({ key, version, ack, value }): WireEvent => (value === undefined ? { key, version, ack, hasValue: false } : { key, version, ack, hasValue: true, value }));
  const batchMsg = fc.record({ epoch: fc.nat(), first: fc.integer({ min: 1, max: 1e9 }), events: fc.array(wireEvent, { minLength: 1, maxLength: 30 }) });

  it('compact batches (format 2) round-trip, through msgpack too; format 1 batches are still read', () => {
    fc.assert(fc.property(batchMsg, (m) => {
      const expected = { ...m, events: m.events.map((e) => (e.hasValue ? { ...e, value: e.value ?? null } : e)) };
      expect(parseBatch(batchToWire(m), 512)).toEqual(expected);
      expect(parseBatch(unpack(pack(batchToWire(m))), 512)).toEqual(expected);
      expect(parseBatch(batchToWireV1(m), 512)).toEqual(expected);
    }), { numRuns: 300 });
    // A format 1 batch whose run (instance id) happens to be 2 is still format 1.
    expect(parseBatch([2, 1, [['k', 1, 0]]], 512)?.events).toEqual([{ key: 'k', version: 1, ack: false, hasValue: false }]);
    expect(parseBatch([2, 5, 1, ['a', 'b'], [100, -3]], 512)?.events.map((e) => e.version)).toEqual([100, 97]);
  });

  it('truncated, cut or garbled compact batches are refused, never thrown on; an unknown format is told apart', () => {
    fc.assert(fc.property(batchMsg, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), (m, cut, byte, at) => {
      const bytes = pack(batchToWire(m));
      const garbled = Uint8Array.from(bytes);
      garbled[at % garbled.length] = byte;
      for (const b of [bytes.subarray(0, cut % bytes.length), garbled]) {
        let v: unknown;
        try {
          v = unpack(b);
        } catch {
          continue; // the codec refused it: the cluster counts that as a decode drop
        }
        expect(() => parseBatch(v, 512)).not.toThrow();
        const r = parseBatch(v, 512);
        if (r) for (const e of r.events) expect(Number.isSafeInteger(e.version) && e.version >= 0 && e.key.length > 0).toBe(true);
      }
    }), { numRuns: 500 });
    const ok = [2, 5, 1, ['a', 'b'], [100, 1]];
    expect(parseBatch(ok, 512)).toBeDefined();
    for (const bad of [
      [2, 5, 1, ['a', 'b'], [100]], // versions shorter than keys
      [2, 5, 1, ['a', 'b'], [100, -101]], // a version below 0
      [2, 5, 1, ['a', 'b'], [2 ** 53, 1]], // not a safe integer
      [2, 5, 1, ['a', 'b'], [100, 0.5]],
      [2, 5, 0, ['a'], [1]], // sequence numbers start at 1
      [2, 5, 1, [], []],
      [2, 5, 1, ['a', ''], [1, 1]],
      [2, 5, 1, ['a', 'x'.repeat(513)], [1, 1]],
      [2, 5, 1, ['a', 'b'], [1, 1], [1, 0]], // acks not ascending
      [2, 5, 1, ['a', 'b'], [1, 1], [2]], // ack index out of range
      [2, 5, 1, ['a', 'b'], [1, 1], [], [0]], // a value index without its value
      [2, 5, 1, ['a', 'b'], [1, 1], [], [1, 'v', 0, 'w']], // values not ascending
      [2, 5, 1, ['a', 'b'], [1, 1], [], [], 9], // too long
      [2, 5, 1, 'ab', [1, 1]],
    ]) expect(parseBatch(bad, 512), JSON.stringify(bad)).toBeUndefined();
    expect(isUnknownBatchFormat([3, 5, 1, ['a'], [1]])).toBe(true);
    expect(isUnknownBatchFormat(ok)).toBe(false);
    expect(isUnknownBatchFormat([3, 1, [['k', 1, 0]]])).toBe(false); // format 1, run 3
  });

  it('every option is in docs/configuration.md with its default', () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Mesh bus'));
    for (const [k, v] of Object.entries(MESH_DEFAULTS)) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${k}\` |`));
      expect(row, k).toBeDefined();
      expect(row!.split('|')[2]!.replace(/[`,\s]/g, ''), k).toBe(String(v));
    }
  });
});
