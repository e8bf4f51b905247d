// snappyjs 0.7 ships no typings; this is the part of its API Grapevine uses (plain Uint8Array in,
// plain Uint8Array out). Note: uncompress checks maxLength only when it is given, and only against
// the preamble it reads as a signed 32-bit integer (see snappy.ts).
declare module 'snappyjs' {
  export function compress(uncompressed: Uint8Array): Uint8Array;
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
}
