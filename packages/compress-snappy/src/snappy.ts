import { compress as snappyCompress, uncompress as snappyUncompress } from 'snappyjs';
import { GrapevineError, type Compressor } from '@grapevine/core';

/**
 * Bodies at or below this many bytes are sent uncompressed (the pipeline compresses only above it):
 * below it snappy rarely saves enough to pay for itself. 256 is a first estimate, to be confirmed by
 * the bench/ micro-benchmark.
 */
export const DEFAULT_COMPRESS_THRESHOLD = 256;

/**
 * The largest uncompressed length ever accepted, whatever maxLength says: snappyjs reads the length
 * preamble into a signed 32-bit integer, so a claim of 2^31 or more would wrap negative inside it.
 */
export const SNAPPY_MAX_LENGTH = 0x7fffffff;

const decodeError = (why: string): GrapevineError => new GrapevineError('ERR_DECODE', `snappy: ${why}`);

/** A plain Uint8Array view (snappyjs treats a Node Buffer differently and returns Buffers for it). */
const plain = (b: Uint8Array): Uint8Array =>
  b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/**
 * Reads the preamble: the uncompressed length as a little-endian base-128 varint of at most 5 bytes
 * with a value below 2^32 (the same bytes snappyjs consumes). Returns [length, bytes read].
 */
export function readSnappyLength(data: Uint8Array): [length: number, headerLength: number] {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= data.length) throw decodeError('truncated length preamble');
    const b = data[i]!;
    if (i === 4 && b > 0x0f) throw decodeError('length preamble exceeds 32 bits');
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return [value, i + 1];
  }
  throw decodeError('length preamble exceeds 32 bits');
}

/**
 * Walks the element stream without writing anything and checks it describes exactly `length` bytes:
 * every literal and copy inside the input, every copy offset inside the output so far, the total equal
 * to the preamble. snappyjs checks none of this (it pads a short stream with zeros, drops the excess
 * of a long one and can loop forever on a literal whose 32-bit length wraps negative), so nothing
 * reaches it unvalidated. Each step consumes at least one input byte, so this always terminates.
 */
function validateStream(data: Uint8Array, pos: number, length: number): void {
  const end = data.length;
  let out = 0;
  while (pos < end) {
    const tag = data[pos++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let len = (tag >>> 2) + 1;
      if (len > 60) {
        const n = len - 60; // 1..4 little-endian bytes of (length - 1)
        if (n > end - pos) throw decodeError('truncated literal length');
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + data[pos + i]!;
        pos += n;
        len = v + 1;
      }
      if (len > end - pos) throw decodeError('literal runs past the end of the input');
      if (len > length - out) throw decodeError('data longer than its length preamble');
      pos += len;
      out += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (end - pos < 1) throw decodeError('truncated copy');
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | data[pos]!;
      pos += 1;
    } else if (kind === 2) {
      if (end - pos < 2) throw decodeError('truncated copy');
      len = (tag >>> 2) + 1;
      offset = data[pos]! | (data[pos + 1]! << 8);
      pos += 2;
    } else {
      if (end - pos < 4) throw decodeError('truncated copy');
      len = (tag >>> 2) + 1;
      offset = data[pos]! + data[pos + 1]! * 0x100 + data[pos + 2]! * 0x10000 + data[pos + 3]! * 0x1000000;
      pos += 4;
    }
    if (offset === 0 || offset > out) throw decodeError('copy offset outside the data decoded so far');
    if (len > length - out) throw decodeError('data longer than its length preamble');
    out += len;
  }
  if (out !== length) throw decodeError('data shorter than its length preamble');
}

/** Snappy (raw block format, no framing) over snappyjs, compressor id 1. */
export const snappyCompressor: Compressor = {
  id: 1,
  name: 'snappy',
  compress(data) {
    return snappyCompress(plain(data));
  },
  decompress(data, maxLength) {
    if (!Number.isSafeInteger(maxLength) || maxLength < 0) {
      throw new GrapevineError('ERR_INVALID_OPTION', `snappy: maxLength must be a non-negative integer, got ${maxLength}`);
    }
    const input = plain(data);
    const [length, headerLength] = readSnappyLength(input);
    const limit = Math.min(maxLength, SNAPPY_MAX_LENGTH);
    if (length > limit) {
      throw new GrapevineError('ERR_TOO_LARGE', `snappy: data claims ${length} bytes uncompressed, the limit is ${limit}`);
    }
    validateStream(input, headerLength, length);
    let out: Uint8Array;
    try {
      out = snappyUncompress(input, limit);
    } catch (err) {
      throw new GrapevineError('ERR_DECODE', 'snappy: invalid data', { cause: err });
    }
    if (out.length !== length) throw decodeError('decoded length differs from the preamble');
    return out;
  },
};
