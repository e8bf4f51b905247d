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
}

/** See Codec.frameArray. */
export interface ArrayFrame {
  readonly before: Uint8Array;
  readonly after: Uint8Array;
}
