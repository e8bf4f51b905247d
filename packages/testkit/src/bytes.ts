/**
 * Deterministic pseudo-random bytes (xorshift32), so a corrupted or reordered payload is detected
 * and a failure reproduces. Byte 0..3 carry `seed` big-endian when there is room, so a receiver can
 * tell which message it holds.
 */
export function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  if (length >= 4) new DataView(out.buffer).setUint32(0, seed >>> 0);
  return out;
}

/** The seed patternBytes wrote into a payload of at least 4 bytes. */
export function patternSeed(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
}

/** Byte-wise equality; much faster than a deep-equality matcher on megabyte payloads. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
