/**
 * A codec turns protocol values (plain arrays, numbers, strings, Uint8Arrays, null, booleans and
 * string-keyed objects) into bytes and back. Its id travels in the envelope, so a node refuses
 * bytes written by a codec it does not run instead of misreading them.
 */
export interface Codec {
  /** One byte on the wire; 1 = JSON, 2 = msgpack. 0 and 128..255 are reserved. */
  readonly id: number;
  readonly name: string;
  encode(value: unknown): Uint8Array;
  /** Throws on malformed input; the caller drops and counts. */
  decode(bytes: Uint8Array): unknown;
}
