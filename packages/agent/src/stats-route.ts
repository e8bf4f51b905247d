/**
 * GET /v1/stats: what the dashboard polls (about once a second) beside the event stream. One JSON
 * object with this node's view:
 *   node, addr, at (wall ms), counts (members by state)
 *   health   Lifeguard awareness score and the suspicion timers running (at most
 *            STATS_MAX_SUSPICIONS listed, `suspicionsTotal` says how many run)
 *   traffic  cumulative transport counters (packets, bytes, reliable messages) and probes sent;
 *            the page turns them into rates from one poll to the next
 *   kv       (--kv) this node's store, keys per ring member and ring ownership (partitions each
 *            member holds, and leads as primary)
 *   mesh     (--mesh) the bus's counters (published, delivered, ...)
 * Times in `health` are the cluster clock's, which the agent runs on wall time.
 */
import type { Cluster } from '@grapevine/core';
import { MemoryMetrics } from '@grapevine/core';
import type { Kv, Ring } from '@grapevine/kv';
import type { MeshBus } from '@grapevine/mesh';
import { dashboardRoute } from './dashboard/assets.js';
import type { HttpRoute } from './http-api.js';
import { sendJson as json } from './http-common.js';
import { KvPeerStats } from './kv-peer-stats.js';

/** Suspicion timers listed in one answer at most. */
export const STATS_MAX_SUSPICIONS = 100;

export interface StatsSources {
  cluster(): Cluster | undefined;
  kv?(): { kv: Kv<Uint8Array>; peers: KvPeerStats } | undefined;
  mesh?(): MeshBus | undefined;
}

export interface RingOwnership {
  node: string;
  /** Partitions this member holds a replica of (any rank). */
  partitions: number;
  /** Partitions it is the primary of. */
  primary: number;
}

const TRAFFIC_KEYS = ['packetsSent', 'packetsReceived', 'packetBytesSent', 'reliableSent', 'reliableReceived', 'reliableBytesSent', 'dropped'] as const;

/** The dashboard's routes for an agent or the demo: GET /, /dashboard/* and /v1/stats. */
export interface DashboardRoutes {
  readonly routes: readonly HttpRoute[];
  /** With --kv: answer peers' key-count requests and report keys per node. */
  attachKv(kv: Kv<Uint8Array>): void;
  close(): void;
}

export interface DashboardRoutesOptions {
  mesh?: () => MeshBus | undefined;
  /** A KV with its peer-stats responder made elsewhere (the demo's nodes); else attachKv. */
  kv?: () => { kv: Kv<Uint8Array>; peers: KvPeerStats } | undefined;
}

export function dashboardRoutes(starting: Cluster | Promise<Cluster>, opts: DashboardRoutesOptions = {}): DashboardRoutes {
  let cluster: Cluster | undefined;
  let kv: { kv: Kv<Uint8Array>; peers: KvPeerStats } | undefined;
  if (starting instanceof Promise) starting.then((c) => (cluster = c), () => undefined);
  else cluster = starting;
  const get = (): Cluster | undefined => cluster;
  return {
    routes: [dashboardRoute(get), statsRoute({ cluster: get, kv: opts.kv ?? (() => kv), ...(opts.mesh ? { mesh: opts.mesh } : {}) })],
    attachKv(store) {
      if (!cluster || kv) return;
      kv = { kv: store, peers: new KvPeerStats(cluster, store) };
    },
    close() {
      kv?.peers.close();
    },
  };
}

export function statsRoute(src: StatsSources): HttpRoute {
  return (req, res, url) => {
    if (url.pathname !== '/v1/stats') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      json(res, 405, { error: 'method not allowed', code: 'ERR_METHOD' });
      return true;
    }
    const cluster = src.cluster();
    if (!cluster) {
      json(res, 503, { error: 'the node is starting', code: 'ERR_NOT_STARTED' });
      return true;
    }
    json(res, 200, collectStats(cluster, src));
    return true;
  };
}

export function collectStats(cluster: Cluster, src: StatsSources): Record<string, unknown> {
  const health = cluster.health();
  const out: Record<string, unknown> = {
    node: cluster.name,
    addr: cluster.localNode.address,
    at: Date.now(),
    counts: cluster.counts(),
    health: {
      awareness: health.awareness,
      awarenessMax: health.awarenessMax,
      suspicions: health.suspicions.slice(0, STATS_MAX_SUSPICIONS),
      suspicionsTotal: health.suspicions.length,
    },
    traffic: traffic(cluster),
  };
  const kv = src.kv?.();
  if (kv) {
    const s = kv.kv.stats();
    const ring = kv.kv.ring();
    out.kv = { entries: s.entries, bytes: s.bytes, evictions: s.evictions, partitions: ring.partitions, replicas: ring.replicas, keysByNode: kv.peers.snapshot(), ownership: ownership(ring) };
  }
  const mesh = src.mesh?.();
  if (mesh) out.mesh = mesh.metrics();
  return out;
}

function traffic(cluster: Cluster): Record<string, number> {
  const t: Record<string, number> = {};
  const stats = (cluster.transport as { stats?: unknown }).stats;
  for (const k of TRAFFIC_KEYS) {
    const v = stats !== null && typeof stats === 'object' ? (stats as Record<string, unknown>)[k] : undefined;
    t[k] = typeof v === 'number' ? v : 0;
  }
  t.probesSent = cluster.metrics instanceof MemoryMetrics ? (cluster.metrics.counters.get('grapevine.probe.sent') ?? 0) : 0;
  return t;
}

/** A ring is rebuilt only when membership changes: compute its ownership once per ring. */
const ownershipCache = new WeakMap<Ring, RingOwnership[]>();

function ownership(ring: Ring): RingOwnership[] {
  const cached = ownershipCache.get(ring);
  if (cached) return cached;
  const by = new Map<string, RingOwnership>(ring.members.map((m) => [m.name, { node: m.name, partitions: 0, primary: 0 }]));
  for (let p = 0; p < ring.partitions; p++) {
    const owners = ring.ownersOf(p);
    owners.forEach((name, rank) => {
      const o = by.get(name);
      if (!o) return;
      o.partitions++;
      if (rank === 0) o.primary++;
    });
  }
  const list = [...by.values()];
  ownershipCache.set(ring, list);
  return list;
}
