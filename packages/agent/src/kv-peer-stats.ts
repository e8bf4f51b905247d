/**
 * Keys per node for the dashboard (--kv). A node's store size is known only to that node, so each
 * agent answers a small request (AGENT_KV_STATS_TYPE) with its own counts, and the stats route asks
 * the ring's members for theirs. Asking happens only while someone polls GET /v1/stats, at most
 * once per `refreshMs`, to at most `maxPeers` members, each with a short timeout: an idle agent
 * sends nothing, and a slow or old member (no handler) shows as unknown instead of holding the
 * answer up.
 */
import { messageType, type Cluster } from '@grapevine/core';
import type { Kv } from '@grapevine/kv';

/** The request type the agent answers with its KV counts (outside the mesh and KV blocks). */
export const AGENT_KV_STATS_TYPE = messageType<null, PeerKvCounts>(64990);
/** Ask peers at most this often (ms), however often the dashboard polls. */
export const KV_PEER_REFRESH_MS = 2000;
/** How long one peer may take to answer (ms). */
export const KV_PEER_TIMEOUT_MS = 500;
/** Peers asked per refresh at most (the rest show as unknown). */
export const KV_PEER_MAX = 128;

export interface PeerKvCounts {
  entries: number;
  bytes: number;
}

export class KvPeerStats {
  private readonly counts = new Map<string, PeerKvCounts>();
  private lastRefresh = -Infinity;
  private inFlight = false;
  private readonly off: () => void;

  constructor(private readonly cluster: Cluster, private readonly kv: Kv<Uint8Array>) {
    this.off = cluster.handleRequest(AGENT_KV_STATS_TYPE, () => {
      const s = kv.stats();
      return { entries: s.entries, bytes: s.bytes };
    });
  }

  /** Known counts by member name (this node's always fresh); starts a refresh when due. */
  snapshot(now = Date.now()): Record<string, PeerKvCounts> {
    if (now - this.lastRefresh >= KV_PEER_REFRESH_MS && !this.inFlight) {
      this.lastRefresh = now;
      void this.refresh();
    }
    const out: Record<string, PeerKvCounts> = {};
    for (const [name, c] of this.counts) out[name] = c;
    const s = this.kv.stats();
    out[this.cluster.name] = { entries: s.entries, bytes: s.bytes };
    return out;
  }

  private async refresh(): Promise<void> {
    this.inFlight = true;
    try {
      const self = this.cluster.name;
      const peers = this.kv.ring().members.map((m) => m.name).filter((n) => n !== self).slice(0, KV_PEER_MAX);
      for (const name of this.counts.keys()) if (!peers.includes(name)) this.counts.delete(name);
      await Promise.all(peers.map(async (name) => {
        try {
          const r = await this.cluster.request(name, AGENT_KV_STATS_TYPE, null, { timeout: KV_PEER_TIMEOUT_MS });
          if (validCounts(r)) this.counts.set(name, { entries: r.entries, bytes: r.bytes });
          else this.counts.delete(name);
        } catch {
          this.counts.delete(name); // unreachable, or not an agent: unknown
        }
      }));
    } finally {
      this.inFlight = false;
    }
  }

  close(): void {
    this.off();
  }
}

/** A reply from the network: trusted only when it has the expected shape. */
function validCounts(r: unknown): r is PeerKvCounts {
  if (r === null || typeof r !== 'object') return false;
  const o = r as Record<string, unknown>;
  return Number.isSafeInteger(o.entries) && (o.entries as number) >= 0 && Number.isSafeInteger(o.bytes) && (o.bytes as number) >= 0;
}
