/**
 * createKv: attach a KV to a started cluster. Every node that should own keys calls it (with the
 * same `partitions`, `replicas` and `messageTypeBase`); a node that only reads and writes could too,
 * since any node coordinates calls.
 */
import type { Cluster } from '@grapevine/core';
import { loadHasher } from './hash.js';
import { Kv } from './kv.js';
import { resolveKvOptions, type KvOptions } from './options.js';

export async function createKv<V = Uint8Array>(cluster: Cluster<unknown>, options: KvOptions = {}): Promise<Kv<V>> {
  const resolved = resolveKvOptions(options);
  const hasher = await loadHasher();
  const kv = new Kv<V>(cluster, resolved, hasher);
  kv.start();
  return kv;
}
