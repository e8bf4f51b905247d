/**
 * The exact size of a bare batch message (format 2 without acks or values), computed instead of
 * encoded. Before sending, every batch is checked against the packet; encoding it once to measure
 * and once more to send was the largest single item of a distinct-key publish (16% of the enqueue
 * bench's CPU, two thirds of what a batch costs). MessagePack writes an array as a header and its
 * elements one after the other, and each element's size follows from its value alone (a string's
 * from its UTF-8 length, an integer's from its range), so a batch's size is a sum.
 *
 * The cluster's codec is opaque to the bus, so the arithmetic is trusted only after it agreed with
 * the codec on a set of probes covering every size class it uses (string and array headers,
 * integer widths, lone surrogates, the broadcast wrapper around the payload). A codec that
 * disagrees on any probe — JSON, or anything else — is measured by encoding, as before.
 */
import { utf8Length } from '@grapevine/core';
import type { PacketFit } from './packet-fit.js';
import { BATCH_FORMAT } from './wire.js';

/** Encoded bytes of a string of `b` UTF-8 bytes: fixstr, str8, str16, str32 header plus the bytes. */
export function strBytes(b: number): number {
  return b + (b < 32 ? 1 : b < 256 ? 2 : b < 65_536 ? 3 : 5);
}

/** Encoded bytes of a number that is an integer (the versions, sequence numbers and runs). */
export function intBytes(v: number): number {
  if (v >= 0) {
    if (v < 128) return 1;
    if (v < 256) return 2;
    if (v < 65_536) return 3;
    return v < 4_294_967_296 ? 5 : 9;
  }
  if (v >= -32) return 1;
  if (v >= -128) return 2;
  if (v >= -32_768) return 3;
  return v >= -2_147_483_648 ? 5 : 9;
}

/** Encoded bytes of an array header for `n` elements: fixarray, array16, array32. */
export function arrayHeaderBytes(n: number): number {
  return n < 16 ? 1 : n < 65_536 ? 3 : 5;
}

export class BatchSizer {
  /** The broadcast message's bytes around its payload (type, origin, id, hops; measured). */
  private readonly wrapper: number;
  /** The arithmetic agreed with the codec on every probe: sizes are computed, not encoded. */
  readonly exact: boolean;

  constructor(private readonly fit: PacketFit, private readonly type: number) {
    this.wrapper = fit.messageBytes(type, null) - fit.measure(null);
    this.exact = this.agrees();
  }

  /**
   * Bytes of the broadcast message of the bare batch `[2, run, first, keys, diffs]` made of the
   * first `n` events, given each key's UTF-8 length and the absolute versions.
   */
  bare(run: number, first: number, keyBytes: readonly number[], versions: readonly number[], n: number): number {
    let body = 0;
    let prev = 0;
    for (let i = 0; i < n; i++) {
      const v = versions[i]!;
      body += strBytes(keyBytes[i]!) + intBytes(v - prev);
      prev = v;
    }
    return this.wrapper + 1 + intBytes(BATCH_FORMAT) + intBytes(run) + intBytes(first) + 2 * arrayHeaderBytes(n) + body;
  }

  /**
   * The longest prefix of the batch (at least one event) whose message is at most `max` bytes,
   * and that message's bytes: one pass, no encoding. Returns the count (`lastBytes` holds the
   * size), or -1 when some key's length is unknown (the caller measures by encoding).
   */
  prefix(run: number, first: number, keyBytes: readonly number[], versions: readonly number[], count: number, max: number): number {
    const fixed = this.wrapper + 1 + intBytes(BATCH_FORMAT) + intBytes(run) + intBytes(first);
    let body = 0;
    let prev = 0;
    let n = 0;
    let bytes = fixed + 2 * arrayHeaderBytes(0);
    for (; n < count; n++) {
      const v = versions[n]!;
      const kb = keyBytes[n]!;
      if (!(kb >= 0)) return -1;
      const next = body + strBytes(kb) + intBytes(v - prev);
      const total = fixed + 2 * arrayHeaderBytes(n + 1) + next;
      if (n > 0 && total > max) break;
      body = next;
      bytes = total;
      prev = v;
    }
    this.lastBytes = bytes;
    return n;
  }

  /** The message bytes of the last prefix() answer. */
  lastBytes = 0;

  /** Compare the arithmetic with the codec on batches that cross every size boundary it uses. */
  private agrees(): boolean {
    const keys = ['', 'k', 'a'.repeat(31), 'b'.repeat(32), 'c'.repeat(255), 'd'.repeat(256), 'é'.repeat(20), '€'.repeat(40), '\u{1F600}'.repeat(9), 'x\ud800y', '\udc00'.repeat(30), '\ud800'.repeat(70), 'z'.repeat(1000)];
    const diffs = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 4_294_967_295, 4_294_967_296, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32_768, -32_769, -2_147_483_648, -2_147_483_649, -(2 ** 53 - 1)];
    const numbers = [1, 2, 300, 70_000, 2 ** 33, 2 ** 53 - 1];
    const probe = (ks: string[], ds: number[], run: number, first: number): boolean => {
      const versions: number[] = [];
      let v = 0;
      for (const d of ds) versions.push((v += d));
      const payload = [BATCH_FORMAT, run, first, ks, ds];
      return this.bare(run, first, ks.map(utf8Length), versions, ks.length) === this.fit.messageBytes(this.type, payload);
    };
    try {
      for (const run of numbers) for (const first of numbers) if (!probe(['a'], [5], run, first)) return false;
      for (const k of keys) if (!probe([k], [1], 1, 1)) return false;
      for (const d of diffs) if (!probe(['a', 'b'], [2 ** 50, d], 1, 1)) return false;
      // Array headers: 15 and 16 elements (a batch fits one packet, so never 65,536).
      for (const n of [15, 16, 300]) if (!probe(new Array<string>(n).fill('k'), new Array<number>(n).fill(1), 1, 1)) return false;
      return probe(keys, keys.map((_, i) => diffs[i]!), 7, 9);
    } catch {
      return false;
    }
  }
}
