import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GrapevineError, type Compressor } from '@grapevine/core';
import { bytesEqual, patternBytes } from './bytes.js';

/**
 * The one round-trip and bad-input suite every Compressor passes: arbitrary bytes round-trip; the
 * decompressed length is bounded by maxLength (exactly at the boundary accepted, one below refused
 * with ERR_TOO_LARGE); arbitrary and mutated input decodes within maxLength or throws a
 * GrapevineError (ERR_DECODE or ERR_TOO_LARGE), never another exception.
 */

export interface CompressorConformanceOptions {
  /** Runs per property; default 100. */
  numRuns?: number;
}

/** Decompresses; returns normally when it decoded within maxLength or threw a decode/size GrapevineError. */
function decompressOrRefuse(compressor: Compressor, data: Uint8Array, maxLength: number): Uint8Array | GrapevineError {
  let out: Uint8Array;
  try {
    out = compressor.decompress(data, maxLength);
  } catch (err) {
    if (!(err instanceof GrapevineError)) throw new Error(`decompress threw a non-GrapevineError: ${String(err)}`);
    if (err.code !== 'ERR_DECODE' && err.code !== 'ERR_TOO_LARGE') throw new Error(`decompress threw ${err.code}`);
    return err;
  }
  if (!(out instanceof Uint8Array)) throw new Error('decompress returned a non-Uint8Array');
  if (out.length > maxLength) throw new Error(`decompress returned ${out.length} bytes, past maxLength ${maxLength}`);
  return out;
}

function expectCode(fn: () => unknown, code: 'ERR_DECODE' | 'ERR_TOO_LARGE'): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(GrapevineError);
  expect((caught as GrapevineError).code).toBe(code);
}

const text = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

const arbData = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }),
  // Compressible: runs and repeats of short random chunks.
  fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 100 })), { maxLength: 20 }).map((parts) => {
    const chunks = parts.flatMap(([chunk, times]) => Array.from({ length: times }, () => chunk));
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }),
);

export function compressorConformance(name: string, compressor: Compressor, options: CompressorConformanceOptions = {}): void {
  const numRuns = options.numRuns ?? 100;

  describe(`compressor conformance: ${name}`, () => {
    it('has a one-byte id and a name', () => {
      expect(Number.isInteger(compressor.id)).toBe(true);
      expect(compressor.id).toBeGreaterThanOrEqual(1);
      expect(compressor.id).toBeLessThanOrEqual(255);
      expect(compressor.name.length).toBeGreaterThan(0);
    });

    const edges: Array<[string, Uint8Array]> = [
      ['empty', new Uint8Array(0)],
      ['one byte', Uint8Array.of(0x42)],
      ['zeros (64 KiB + 1)', new Uint8Array(65_537)],
      ['one repeated byte (300 KiB)', new Uint8Array(300_000).fill(0x61)],
      ['text', text('{"type":"alive","node":"node-001","addr":"10.0.0.1:7946","incarnation":42}'.repeat(40))],
      ['incompressible (100 KiB)', patternBytes(100_000, 1)],
    ];
    it.each(edges)('round-trips %s, exactly at maxLength', (_label, data) => {
      const compressed = compressor.compress(data);
      expect(compressed).toBeInstanceOf(Uint8Array);
      const out = compressor.decompress(compressed, data.length);
      expect(out).toBeInstanceOf(Uint8Array);
      expect(bytesEqual(out, data)).toBe(true);
      if (data.length > 0) expectCode(() => compressor.decompress(compressed, data.length - 1), 'ERR_TOO_LARGE');
    });

    it('makes highly compressible data much smaller', () => {
      expect(compressor.compress(new Uint8Array(65_536)).length).toBeLessThan(65_536 / 8);
      expect(compressor.compress(edges[4]![1]).length).toBeLessThan(edges[4]![1].length / 4);
    });

    it('round-trips arbitrary bytes; maxLength exactly at the size accepted, one below refused', () => {
      fc.assert(
        fc.property(arbData, (data) => {
          const compressed = compressor.compress(data);
          expect(bytesEqual(compressor.decompress(compressed, data.length), data)).toBe(true);
          expect(bytesEqual(compressor.decompress(compressed, data.length + 1000), data)).toBe(true);
          if (data.length > 0) expectCode(() => compressor.decompress(compressed, data.length - 1), 'ERR_TOO_LARGE');
        }),
        { numRuns },
      );
    });

    it('works on views at any offset and leaves its input alone', () => {
      fc.assert(
        fc.property(arbData, fc.nat(7), fc.nat(7), (data, before, after) => {
          const embed = (b: Uint8Array): Uint8Array => {
            const big = new Uint8Array(before + b.length + after).fill(0xee);
            big.set(b, before);
            return big.subarray(before, before + b.length);
          };
          const view = embed(data);
          const compressed = compressor.compress(view);
          expect(bytesEqual(view, data)).toBe(true);
          const cview = embed(compressed);
          expect(bytesEqual(compressor.decompress(cview, data.length), data)).toBe(true);
          expect(bytesEqual(cview, compressed)).toBe(true);
        }),
        { numRuns: Math.min(numRuns, 50) },
      );
    });

    it('refuses a decompression bomb: 1 MiB of zeros against a 4 KiB limit', () => {
      const bomb = compressor.compress(new Uint8Array(1 << 20));
      expect(bomb.length).toBeLessThan(64 * 1024);
      expectCode(() => compressor.decompress(bomb, 4096), 'ERR_TOO_LARGE');
      expectCode(() => compressor.decompress(bomb, 0), 'ERR_TOO_LARGE');
    });

    it('arbitrary bytes decode within maxLength or throw a GrapevineError', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 4096 }), (data, maxLength) => {
          decompressOrRefuse(compressor, data, maxLength);
        }),
        { numRuns: numRuns * 10 },
      );
    });

    it('truncations of valid data decode within maxLength or throw a GrapevineError', () => {
      fc.assert(
        fc.property(arbData, (data) => {
          const compressed = compressor.compress(data);
          const step = Math.max(1, Math.floor(compressed.length / 40));
          for (let n = 0; n < compressed.length; n += step) decompressOrRefuse(compressor, compressed.subarray(0, n), data.length + 64);
        }),
        { numRuns: Math.min(numRuns, 50) },
      );
    });

    it('bit flips, overwrites and extensions of valid data decode within maxLength or throw a GrapevineError', () => {
      const edit = fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
        fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
        fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
      );
      fc.assert(
        fc.property(arbData, fc.array(edit, { minLength: 1, maxLength: 4 }), fc.integer({ min: -16, max: 64 }), (data, edits, slack) => {
          let bytes = Uint8Array.from(compressor.compress(data));
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
          decompressOrRefuse(compressor, bytes, Math.max(0, data.length + slack));
        }),
        { numRuns: numRuns * 3 },
      );
    });
  });
}
