/**
 * The one hash the KV uses: xxHash32 from xxhash-wasm (fast, well kept, WebAssembly so it runs on
 * every runtime, no native build). Loading the WebAssembly module is asynchronous, so createKv
 * awaits `loadHasher()` once and every ring and digest hashes synchronously after that.
 */
import xxhash from 'xxhash-wasm';
import { fmix32 } from '@grapevine/core';

export interface Hasher {
  /** 32-bit hash of a string's UTF-8 bytes, as an unsigned integer. */
  str(s: string, seed?: number): number;
  /** 32-bit hash of bytes, as an unsigned integer. */
  bytes(b: Uint8Array, seed?: number): number;
}

let loaded: Promise<Hasher> | undefined;

export function loadHasher(): Promise<Hasher> {
  loaded ??= xxhash().then((x) => ({
    str: (s: string, seed = 0) => x.h32(s, seed) >>> 0,
    bytes: (b: Uint8Array, seed = 0) => x.h32Raw(b, seed) >>> 0,
  }));
  return loaded;
}

/**
 * Mix two 32-bit integers into a well-spread 32-bit score (the murmur3 finaliser over their
 * combination). The ring uses it for rendezvous scores: hashing a node's seed with a partition
 * number this way costs a few integer operations instead of a string hash per pair.
 */
export function mix32(a: number, b: number): number {
  return fmix32((a ^ Math.imul(b, 0x9e3779b1)) >>> 0);
}
