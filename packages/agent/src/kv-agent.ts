/**
 * The agent's KV: its flags (--kv, --kv-resp, --kv-replicas, --kv-write-quorum, --kv-read-quorum,
 * --kv-max-bytes, --kv-near-cache) and starting the store, its HTTP routes and its RESP server on the agent's cluster.
 */
import type { Cluster, Logger } from '@grapevine/core';
import { createKv, type InvalidationBus, type Kv } from '@grapevine/kv';
import { formatHostPort, parseHostPort } from '@grapevine/core';
import { startRespServer, type RespServer } from './resp-server.js';
import { UsageError } from './usage-error.js';

export interface KvAgentSettings {
  resp?: string;
  replicas?: number;
  writeQuorum?: number;
  readQuorum?: number;
  maxBytes?: number;
  /** --kv-near-cache MS: keep values read from other owners for at most MS ms. */
  nearCacheTtl?: number;
}

/** Flags the KV adds to `grapevine agent` (merged into its parseArgs options). */
export const KV_FLAGS = {
  kv: { type: 'boolean' },
  'kv-resp': { type: 'string' },
  'kv-replicas': { type: 'string' },
  'kv-write-quorum': { type: 'string' },
  'kv-read-quorum': { type: 'string' },
  'kv-max-bytes': { type: 'string' },
  'kv-near-cache': { type: 'string' },
} as const;

type KvValues = { kv?: boolean } & { [K in Exclude<keyof typeof KV_FLAGS, 'kv'>]?: string };

/** The KV settings from parsed flags; undefined without --kv. A KV flag without --kv is a usage error. */
export function parseKvFlags(values: KvValues): KvAgentSettings | undefined {
  const fail = (msg: string): never => {
    throw new UsageError(`grapevine agent: ${msg}`);
  };
  const sub = (Object.keys(KV_FLAGS) as (keyof typeof KV_FLAGS)[]).filter((f) => f !== 'kv' && values[f] !== undefined);
  if (!values.kv) {
    if (sub.length > 0) fail(`--${sub[0]} needs --kv`);
    return undefined;
  }
  const int = (flag: keyof KvValues, min: number, max: number): number | undefined => {
    const v = values[flag];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !/^\d{1,15}$/.test(v) || Number(v) < min || Number(v) > max) fail(`--${flag} must be an integer in ${min}..${max}, got "${String(v)}"`);
    return Number(v);
  };
  const s: KvAgentSettings = {};
  const replicas = int('kv-replicas', 1, 16);
  const w = int('kv-write-quorum', 1, 16);
  const r = int('kv-read-quorum', 1, 16);
  const maxBytes = int('kv-max-bytes', 1024, Number.MAX_SAFE_INTEGER);
  const nearCacheTtl = int('kv-near-cache', 1, 3_600_000);
  const rf = replicas ?? 3;
  if (w !== undefined && w > rf) fail(`--kv-write-quorum ${w} is more than the replicas (${rf})`);
  if (r !== undefined && r > rf) fail(`--kv-read-quorum ${r} is more than the replicas (${rf})`);
  if (w === undefined && rf < 2) fail('--kv-replicas 1 needs --kv-write-quorum 1');
  if (replicas !== undefined) s.replicas = replicas;
  if (w !== undefined) s.writeQuorum = w;
  if (r !== undefined) s.readQuorum = r;
  if (maxBytes !== undefined) s.maxBytes = maxBytes;
  if (nearCacheTtl !== undefined) s.nearCacheTtl = nearCacheTtl;
  if (values['kv-resp'] !== undefined) {
    try {
      s.resp = formatHostPort(parseHostPort(values['kv-resp']));
    } catch (err) {
      fail(`--kv-resp: ${(err as Error).message}`);
    }
  }
  return s;
}

export interface KvAgent {
  readonly kv: Kv<Uint8Array>;
  readonly resp?: RespServer;
  close(): Promise<void>;
}

/** `bus`: the agent's mesh bus (with --mesh), which then invalidates the near caches. */
export async function startKvAgent(cluster: Cluster, s: KvAgentSettings, logger: Logger, bus?: InvalidationBus): Promise<KvAgent> {
  const kv = await createKv<Uint8Array>(cluster as Cluster<unknown>, {
    ...(s.replicas !== undefined ? { replicas: s.replicas } : {}),
    ...(s.writeQuorum !== undefined ? { writeQuorum: s.writeQuorum } : {}),
    ...(s.readQuorum !== undefined ? { readQuorum: s.readQuorum } : {}),
    ...(s.maxBytes !== undefined ? { maxBytes: s.maxBytes } : {}),
    ...(s.nearCacheTtl !== undefined ? { nearCache: { ttl: s.nearCacheTtl, ...(bus ? { bus } : {}) } } : {}),
  });
  let resp: RespServer | undefined;
  if (s.resp !== undefined) {
    try {
      resp = await startRespServer(kv, { bind: s.resp, logger });
    } catch (err) {
      kv.close();
      throw new Error(`--kv-resp: cannot listen on ${s.resp}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  }
  logger.info({ replicas: kv.options.replicas, writeQuorum: kv.options.writeQuorum, readQuorum: kv.options.readQuorum, maxBytes: kv.options.maxBytes, ...(kv.options.nearCache ? { nearCacheTtl: kv.options.nearCache.ttl, nearCacheBus: kv.options.nearCache.bus !== undefined } : {}), ...(resp ? { resp: resp.address } : {}) }, 'key-value store started');
  return {
    kv,
    ...(resp ? { resp } : {}),
    async close() {
      await resp?.close();
      kv.close();
    },
  };
}
