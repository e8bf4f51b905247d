import { randomFillSync } from 'node:crypto';
import { GrapevineError, type Cipher } from '@grapevine/core';

/** Hands out the nonces a sender seals with; each call returns a fresh array. */
export interface NonceSource {
  readonly length: number;
  next(): Uint8Array;
}

/*
 * Nonce schemes.
 *
 * Nonces of 24 bytes or more (XChaCha20-Poly1305): uniformly random from the OS CSPRNG. Among M
 * nonces the chance of any repeat is at most M^2 / 2^(8*length+1): for 24 bytes and M = 2^64
 * messages under one key, 2^-129.
 *
 * Nonces of 12..23 bytes (AES-256-GCM: 12): a random prefix (length - 8 bytes, 4 for GCM) chosen once
 * per process, followed by a 64-bit big-endian counter that starts at a random value and is shared by
 * every nonce source of that length in the process ("process" = one instance of this module: a
 * worker thread has its own). So:
 *   - within a process a nonce never repeats, under any key, until 2^64 nonces have been taken; the
 *     source refuses (throws) before it would wrap onto its starting value;
 *   - across processes, both the prefix and the counter start are random, so the sequences of two
 *     processes are two runs of consecutive values at independent uniform positions in a 2^96 space
 *     (prefix || counter). Two runs of at most n nonces overlap with probability at most
 *     2^-32 (same prefix) * (2n - 1) / 2^64 (overlapping counter runs) < 2n / 2^96, so over N
 *     processes ever using one key, P(any nonce reuse) < N^2 * n / 2^96.
 *     Example: N = 2^16 process lifetimes sharing a key, each sealing n = 2^40 messages (a million
 *     packets a second for 12 days): 2^-24. A 5..1,000 node cluster is many orders below that.
 *     Purely random 96-bit nonces would instead reach 2^-32 after only 2^32 messages cluster-wide.
 * Keys should still be rotated periodically (docs/security.md); GCM's own per-key data bounds are
 * far above what a gossip cluster sends between rotations.
 */

const POOL_SIZE = 4096;
let pool = new Uint8Array(0);
let poolAt = 0;

function randomBytes(n: number): Uint8Array {
  if (n > POOL_SIZE) return randomFillSync(new Uint8Array(n));
  if (poolAt + n > pool.length) {
    pool = randomFillSync(new Uint8Array(POOL_SIZE));
    poolAt = 0;
  }
  const out = pool.slice(poolAt, poolAt + n);
  pool.fill(0, poolAt, poolAt + n); // a byte is handed out once
  poolAt += n;
  return out;
}

interface CounterState {
  readonly prefix: Uint8Array;
  hi: number;
  lo: number;
  readonly startHi: number;
  readonly startLo: number;
  exhausted: boolean;
}

const counters = new Map<number, CounterState>();

function counterState(length: number): CounterState {
  let s = counters.get(length);
  if (!s) {
    const r = randomBytes(length);
    const view = new DataView(r.buffer, r.byteOffset, r.byteLength);
    const prefixLength = length - 8;
    const hi = view.getUint32(prefixLength);
    const lo = view.getUint32(prefixLength + 4);
    s = { prefix: r.slice(0, prefixLength), hi, lo, startHi: hi, startLo: lo, exhausted: false };
    counters.set(length, s);
  }
  return s;
}

function counterNonce(s: CounterState, length: number): Uint8Array {
  if (s.exhausted) {
    throw new GrapevineError('ERR_LIMIT', 'nonce counter exhausted (2^64 nonces): restart the process');
  }
  const out = new Uint8Array(length);
  out.set(s.prefix, 0);
  const view = new DataView(out.buffer);
  view.setUint32(length - 8, s.hi);
  view.setUint32(length - 4, s.lo);
  s.lo = (s.lo + 1) >>> 0;
  if (s.lo === 0) s.hi = (s.hi + 1) >>> 0;
  if (s.hi === s.startHi && s.lo === s.startLo) s.exhausted = true; // the next value was the first
  return out;
}

/** The nonce source a sender should use with `cipher` (scheme chosen by its nonce length). */
export function createNonceSource(cipher: Pick<Cipher, 'name' | 'nonceLength'>): NonceSource {
  const length = cipher.nonceLength;
  if (!Number.isInteger(length) || length < 12) {
    throw new GrapevineError('ERR_INVALID_OPTION', `${cipher.name}: no safe nonce scheme for ${length}-byte nonces`);
  }
  if (length >= 24) return { length, next: () => randomBytes(length) };
  const state = counterState(length);
  return { length, next: () => counterNonce(state, length) };
}
