/**
 * A cluster of N Grapevine nodes in this process, with the views the harness tracks from their
 * events. Mirrors the anchor's `cluster` type: node i is `node-%03d` on 127.0.0.1:(basePort + i).
 */
import type { ProfileName, ProtocolConfig } from '@grapevine/core';
import { addTraffic, startNode, zeroTraffic, type BenchTransport, type BenchWsOptions, type StartedNode, type TrafficSnap } from './node-factory.js';
import { Tracker } from './tracker.js';
import { emit, ms, now, progress, sleep, type Row } from './util.js';

export const HOST = '127.0.0.1';

export interface BenchNode {
  idx: number;
  name: string;
  port: number;
  addr: string;
  node: StartedNode;
  down: boolean;
}

export interface ClusterSpec {
  /** Cluster index k (port block base-port + 256·k). */
  id: number;
  n: number;
  basePort: number;
  seed: number;
  profile: ProfileName;
  overrides: Partial<Omit<ProtocolConfig, 'limits'>>;
  transport: BenchTransport;
  /** WsTransport options the run varies. */
  ws?: BenchWsOptions;
}

/** Line prefix every result carries: impl, scenario, n (configured N), trial, seed. */
export interface RunInfo {
  n: number;
  seed: number;
}

export function base(run: RunInfo, scenario: string, trial: number): Row {
  return { impl: 'grapevine', scenario, n: run.n, trial, seed: run.seed };
}

/** A 32-bit seed from the harness seed, the cluster and the node (the anchor's seed·1000003 + id·10007 + i). */
function mixSeed(seed: number, id: number, i: number, salt: number): number {
  return (Math.imul(seed, 1000003) + Math.imul(id, 10007) + i + Math.imul(salt, 0x9e3779b1)) >>> 0;
}

export class BenchCluster {
  readonly nodes: BenchNode[] = [];
  readonly tracker: Tracker;
  /** (observer, subject) pairs missing when the join wait ended. */
  stuck: [number, number][] = [];
  joinT0 = 0;

  private constructor(readonly spec: ClusterSpec, names: string[]) {
    this.tracker = new Tracker(names);
  }

  /**
   * Create N listening nodes that have not joined anyone. A port that is taken (ports above 32767
   * are in Linux's ephemeral range, used by outbound connections, this process's included) is
   * retried on the same ports for a while before giving up.
   */
  static async create(spec: ClusterSpec): Promise<BenchCluster> {
    // A TIME_WAIT left by an earlier outbound connection from that port blocks a listener for
    // 60 s on Linux, so back off for up to about a minute in all.
    const delays = [1000, 2000, 4000, 8000, 16000, 32000];
    for (let attempt = 0; ; attempt++) {
      try {
        return await BenchCluster.tryCreate(spec);
      } catch (err) {
        const delay = delays[attempt];
        if (!isAddressInUse(err) || delay === undefined) throw err;
        progress(`cluster ${spec.id}: ${err instanceof Error ? err.message : String(err)}; retrying in ${delay / 1000} s`);
        await sleep(delay);
      }
    }
  }

  private static async tryCreate(spec: ClusterSpec): Promise<BenchCluster> {
    const names = Array.from({ length: spec.n }, (_, i) => `node-${String(i).padStart(3, '0')}`);
    const c = new BenchCluster(spec, names);
    try {
      for (let i = 0; i < spec.n; i++) {
        const port = spec.basePort + i;
        const node = await startNode({
          name: names[i]!,
          host: HOST,
          port,
          profile: spec.profile,
          overrides: spec.overrides,
          transport: spec.transport,
          ...(spec.ws !== undefined ? { ws: spec.ws } : {}),
          lossSeed: mixSeed(spec.seed, spec.id, i, 1),
          protocolSeed: mixSeed(spec.seed, spec.id, i, 2),
        });
        const idx = i;
        node.cluster.on('change', (ev) => c.tracker.onEvent(idx, ev));
        c.tracker.selfJoined(idx);
        c.nodes.push({ idx, name: names[i]!, port, addr: `${HOST}:${port}`, node, down: false });
      }
    } catch (err) {
      await c.close();
      throw err;
    }
    c.tracker.last = now();
    return c;
  }

  live(): BenchNode[] {
    return this.nodes.filter((nd) => !nd.down);
  }

  /** Every live node lists exactly the live set. */
  fullView(): boolean {
    const live = this.live();
    const t = this.tracker;
    for (const o of live) {
      if (t.aliveCnt[o.idx] !== live.length) return false;
    }
    for (const o of live) {
      const row = t.alive[o.idx]!;
      for (const s of live) if (!row[s.idx]) return false;
    }
    return true;
  }

  missingPairList(): [number, number][] {
    const live = this.live();
    const out: [number, number][] = [];
    for (const o of live) {
      for (const s of live) if (!this.tracker.alive[o.idx]![s.idx]) out.push([o.idx, s.idx]);
    }
    return out;
  }

  missingViewPairs(): number {
    return this.missingPairList().length;
  }

  /** Public API check: every live node's members (alive or suspect) are exactly the live set, all alive. */
  membersAllAlive(): boolean {
    const live = this.live();
    const names = new Set(live.map((nd) => nd.name));
    for (const o of live) {
      const ms = o.node.cluster.members({ state: ['alive', 'suspect'] });
      if (ms.length !== live.length) return false;
      for (const m of ms) if (m.state !== 'alive' || !names.has(m.name)) return false;
    }
    return true;
  }

  /** What memberlist's NumMembers() counts: members not dead or left, self included. */
  static viewSize(nd: BenchNode): number {
    const c = nd.node.cluster.counts();
    return c.alive + c.suspect;
  }

  /** To stderr: which views are incomplete, by the tracker and by the public API. */
  diagnose(what: string): void {
    const live = this.live();
    const t = this.tracker;
    for (const o of live) {
      const miss = live.filter((s) => !t.alive[o.idx]![s.idx]).map((s) => s.name);
      if (miss.length > 0 || t.aliveCnt[o.idx] !== live.length) {
        progress(`${what}: ${o.name} view has ${t.aliveCnt[o.idx]}, missing ${miss.join(',')}`);
      }
    }
    for (const o of live) {
      const ms = o.node.cluster.members({ state: ['alive', 'suspect'] });
      const bad = ms.filter((m) => m.state !== 'alive').length;
      if (ms.length !== live.length || bad > 0) progress(`${what}: ${o.name} members()=${ms.length} (non-alive ${bad})`);
    }
  }

  traffic(nodes: BenchNode[] = this.live()): TrafficSnap {
    let s = zeroTraffic();
    for (const nd of nodes) s = addTraffic(s, nd.node.traffic());
    return s;
  }

  /** Sum of one MemoryMetrics counter over the given nodes. */
  counter(name: string, nodes: BenchNode[] = this.live()): number {
    let s = 0;
    for (const nd of nodes) s += nd.node.metrics.counter(name);
    return s;
  }

  /**
   * For a main trial whose join did not converge: did the missing view entries fill in later, and
   * when (Grapevine repairs them by its post-join push-pull and the periodic one).
   */
  reportJoinRepair(run: RunInfo, trial: number): void {
    if (this.stuck.length === 0) return;
    const observed = now() - this.joinT0;
    let repaired = 0;
    let last = -Infinity;
    for (const [o, s] of this.stuck) {
      const at = this.tracker.joinAt[o]![s]!;
      if (at > this.joinT0) {
        repaired++;
        if (at > last) last = at;
      }
    }
    const row = base(run, 'join_repair', trial);
    row.live_nodes = this.nodes.length;
    row.missing_view_pairs = this.stuck.length;
    row.repaired_pairs = repaired;
    row.full_convergence_ms = repaired === this.stuck.length ? ms(last - this.joinT0) : null;
    row.observed_for_ms = ms(observed);
    emit(row);
  }

  /** Close every node still up (without leaving), all at once. */
  async close(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const nd of this.nodes) {
      if (nd.down) continue;
      nd.down = true;
      closing.push(nd.node.cluster.close().catch((err: unknown) => progress(`close ${nd.name}: ${String(err)}`)));
    }
    await Promise.all(closing);
  }
}

function isAddressInUse(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' || e.message.includes('EADDRINUSE')) return true;
  }
  return false;
}
