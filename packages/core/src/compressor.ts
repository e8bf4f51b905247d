/**
 * A compression stage of the wire pipeline. Decompression is always bounded: a compressed body
 * that claims or produces more than `maxLength` bytes is refused (no decompression bombs).
 */
export interface Compressor {
  /** One byte in the sealed header (1 = snappy). */
  readonly id: number;
  readonly name: string;
  compress(data: Uint8Array): Uint8Array;
  /** Throws a GrapevineError (ERR_DECODE, or ERR_TOO_LARGE past maxLength) on bad input. */
  decompress(data: Uint8Array, maxLength: number): Uint8Array;
}
