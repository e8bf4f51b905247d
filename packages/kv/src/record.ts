/**
 * One versioned record of a key, as replicas store it and as it travels between nodes: the value
 * (null for a tombstone), its version (HLC timestamp + coordinating node) and its absolute expiry
 * time in wall milliseconds (0 = never). The expiry travels with the value, so every replica
 * expires the key at the same moment instead of each counting its own TTL from when the copy arrived.
 */
import { isVersion, type Version } from './versions.js';

export interface KvRecord extends Version {
  readonly key: string;
  /** The value's bytes; null marks a tombstone (a delete, or an expired value). */
  readonly value: Uint8Array | null;
  /** Wall-clock ms at which the value expires; 0 = no expiry. */
  readonly exp: number;
}

/** Wire form: [key, value|null, ts, node, exp], compact with any codec. */
export type WireRecord = [string, Uint8Array | null, number, string, number];

export function toWire(r: KvRecord): WireRecord {
  return [r.key, r.value, r.ts, r.node, r.exp];
}

/** Check a record from the network against the limits; undefined when malformed. */
export function fromWire(w: unknown, maxKeyBytes: number, maxValueBytes: number): KvRecord | undefined {
  if (!Array.isArray(w) || w.length !== 5) return undefined;
  const [key, value, ts, node, exp] = w as unknown[];
  if (typeof key !== 'string' || key.length === 0 || key.length > maxKeyBytes) return undefined;
  if (value !== null && !(value instanceof Uint8Array)) return undefined;
  if (value !== null && value.length > maxValueBytes) return undefined;
  if (typeof exp !== 'number' || !Number.isSafeInteger(exp) || exp < 0) return undefined;
  const v = { ts, node };
  if (!isVersion(v)) return undefined;
  return { key, value, ts: v.ts, node: v.node, exp };
}

/** Has the value expired at wall time `now`? Tombstones never "expire" (they are collected). */
export function expired(r: KvRecord, now: number): boolean {
  return r.value !== null && r.exp !== 0 && r.exp <= now;
}
