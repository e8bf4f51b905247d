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
  /**
   * Optional. The bytes that go before and after the last element's own encoding in
   * `encode([...head, last])`, the same whatever `last` is — so a relay can forward a received
   * message with a changed header around the payload bytes it arrived with, instead of decoding
   * and re-encoding the payload. undefined (or no method) when the codec cannot frame that array;
   * callers then encode whole values.
   */
  frameArray?(head: readonly unknown[]): ArrayFrame | undefined;
  /**
   * Optional, never throws. Reads up to `count` leading elements of the array that `bytes`
   * encodes into `out[0..]`, without decoding the rest, and returns how many it read: fewer when
   * the array is shorter, or an element is not a number or string it reads cheaply, or the bytes
   * are malformed; 0 when they do not start an array. An element it does return is what decode()
   * would give for it, whenever decode() accepts the whole of `bytes`. The receive path reads a
   * broadcast's header this way to drop a duplicate copy before decoding its payload.
   */
  peekArray?(bytes: Uint8Array, count: number, out: unknown[]): number;
}

/** See Codec.frameArray. */
export interface ArrayFrame {
  readonly before: Uint8Array;
  readonly after: Uint8Array;
}
