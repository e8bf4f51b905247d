/**
 * How long a node's view stays wrong after a join goes past it, with and without the view digest
 * (pings and acks carry a digest of the sender's live membership; a node that keeps disagreeing
 * push-pulls). Deterministic simulation on the in-memory network and a virtual clock, so the
 * figures are simulated milliseconds, independent of this machine's load, and replay from a seed.
 *
 *   missed  N nodes converge; one more joins while one member loses every gossiped alive about
 *           it (push-pull still carries it): the worst luck gossip can have.
 *   pause   N nodes converge; on a lossy network (--loss on every link) one member is paused for
 *           --pause-ms (timers late, every datagram arriving meanwhile dropped, TCP held) while
 *           --joiners nodes join.
 *   starve  the same, but the member only gets the CPU 100 ms out of every 500 ms for --starve-ms.
 *
 * Repair time: from the moment the joins have resolved and the node runs (pause: the pause is
 * over; starve: in one of its running slices, so the node is still starved while it is repaired)
 * until every live node holds every other as alive or suspect. A run still apart after --limit-ms counts as
 * that limit and as unrepaired.
 *
 *   node bench/dist/view-repair.js [--n 50] [--seeds 40] [--off-seeds 10] [--joiners 6]
 *        [--loss 0.2] [--pause-ms 6000] [--starve-ms 8000] [--limit-ms 60000]
 *        [--scenarios missed,pause,starve] [--profile lan]
 *
 * Prints one JSON line per (scenario, digest on/off): seeds run, how many diverged, how many were
 * repaired, p50 / p99 / max repair time (simulated ms and protocol periods), digest push-pulls.
 */
import { Cluster, MemoryMetrics, profiles, seededRandom, type ClusterOptions, type InboundInfo, type Message, type ProfileName, type Transport } from '@grapevine/core';
import { MemoryNetwork, Stall, VirtualClock, type MemoryTransport } from '@grapevine/transport-memory';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { emit, now, progress, r1 } from './util.js';

const argv = process.argv.slice(2);
function arg(name: string, fallback: number): number {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}
function sarg(name: string, fallback: string): string {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
}

const N = arg('--n', 50);
const SEEDS = arg('--seeds', 40);
const OFF_SEEDS = arg('--off-seeds', 10);
const JOINERS = arg('--joiners', 6);
const LOSS = arg('--loss', 0.2);
const PAUSE_MS = arg('--pause-ms', 6000);
const STARVE_MS = arg('--starve-ms', 8000);
const LIMIT_MS = arg('--limit-ms', 60_000);
const PROFILE = sarg('--profile', 'lan') as ProfileName;
const SCENARIOS = sarg('--scenarios', 'missed,pause,starve').split(',');
if (!profiles[PROFILE]) throw new Error(`unknown profile ${PROFILE}`);
const PERIOD = profiles[PROFILE].probeInterval;

interface Node {
  name: string;
  cluster: Cluster;
  address: string;
  metrics: MemoryMetrics;
}

class World {
  readonly clock = new VirtualClock();
  readonly net: MemoryNetwork;
  readonly nodes: Node[] = [];
  constructor(readonly seed: number, readonly options: Partial<ClusterOptions>) {
    this.net = new MemoryNetwork({ clock: this.clock, seed, defaultDelay: 1, jitter: 1 });
  }

  async add(name: string, extra: Partial<ClusterOptions> = {}, wrap?: (t: MemoryTransport) => Transport): Promise<Node> {
    const idx = this.nodes.length;
    const t = this.net.createTransport(`10.0.${idx >> 8}.${idx & 255}:7946`);
    const metrics = new MemoryMetrics();
    const cluster = await Cluster.create({
      name, transport: wrap ? wrap(t) : t, clock: this.clock, random: seededRandom(this.seed * 7919 + idx), metrics,
      codec: msgpackCodec, profile: PROFILE, ...this.options, ...extra,
    });
    const node = { name, cluster, address: t.address, metrics };
    this.nodes.push(node);
    return node;
  }

  async until(pred: () => boolean, timeoutMs: number, step = 10): Promise<boolean> {
    const end = this.clock.now() + timeoutMs;
    while (this.clock.now() < end) {
      if (pred()) return true;
      await this.clock.advance(step);
    }
    return pred();
  }

  /** Every node but the first joins the first, at once; wait for the joins and for full views. */
  async form(): Promise<void> {
    let pending = this.nodes.length - 1;
    for (const n of this.nodes.slice(1)) void n.cluster.join(this.nodes[0]!.address).catch(() => undefined).finally(() => pending--);
    await this.until(() => pending === 0, 60_000);
    if (!(await this.until(() => this.agree(), 60_000, 50))) throw new Error(`seed ${this.seed}: cluster did not form`);
    await this.clock.advance(2000); // past every member's post-join push-pull
  }

  agree(): boolean {
    return this.nodes.every((n) => this.nodes.every((o) => {
      const s = n.cluster.member(o.name)?.state;
      return s === 'alive' || s === 'suspect';
    }));
  }

  counter(name: string): number {
    return this.nodes.reduce((s, n) => s + n.metrics.counter(name), 0);
  }

  async close(): Promise<void> {
    for (const n of this.nodes) await n.cluster.close();
    await this.net.close();
  }
}

interface Run {
  diverged: boolean;
  repairMs: number | undefined;
  syncs: number;
}

async function missed(seed: number, options: Partial<ClusterOptions>): Promise<Run> {
  const w = new World(seed, options);
  try {
    for (let i = 0; i < N; i++) await w.add(`node-${i}`);
    await w.form();
    const deaf = w.nodes[1 + (seed % (N - 1))]!;
    const swim = deaf.cluster.node as unknown as { dispatch(msg: Message, info: InboundInfo): void };
    const dispatch = swim.dispatch.bind(swim);
    swim.dispatch = (msg, info) => {
      if (msg.k === 5 && msg.name === 'joiner') return;
      dispatch(msg, info);
    };
    const joiner = await w.add('joiner');
    let joined = false;
    void joiner.cluster.join(w.nodes[0]!.address).finally(() => (joined = true));
    await w.until(() => joined, 30_000);
    const t0 = w.clock.now();
    const diverged = !w.agree();
    const ok = await w.until(() => w.agree(), LIMIT_MS);
    return { diverged, repairMs: ok ? w.clock.now() - t0 : undefined, syncs: w.counter('grapevine.view-digest.sync') };
  } finally {
    await w.close();
  }
}

async function starved(seed: number, options: Partial<ClusterOptions>, mode: 'pause' | 'starve'): Promise<Run> {
  const w = new World(seed, options);
  try {
    const stall = new Stall(w.clock, { packetBuffer: 0 });
    for (let i = 0; i < N; i++) {
      if (i === 1) await w.add(`node-${i}`, { clock: stall.clock }, (t) => stall.wrap(t));
      else await w.add(`node-${i}`);
    }
    await w.form();
    w.net.setLoss('*', '*', LOSS);
    if (mode === 'pause') stall.stall(PAUSE_MS);
    else stall.starve(400, 500, STARVE_MS);
    await w.clock.advance(500);
    let joining = JOINERS;
    for (let j = 0; j < JOINERS; j++) {
      const n = await w.add(`joiner-${j}`);
      void n.cluster.join(w.nodes[0]!.address).catch(() => undefined).finally(() => joining--);
    }
    await w.until(() => joining === 0 && !stall.stalled, 120_000);
    const t0 = w.clock.now();
    const diverged = !w.agree();
    const ok = await w.until(() => w.agree(), LIMIT_MS);
    return { diverged, repairMs: ok ? w.clock.now() - t0 : undefined, syncs: w.counter('grapevine.view-digest.sync') };
  } finally {
    await w.close();
  }
}

function rank(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

emit({
  type: 'meta', bench: 'view-repair', n: N, seeds: SEEDS, off_seeds: OFF_SEEDS, joiners: JOINERS, loss: LOSS,
  pause_ms: PAUSE_MS, starve_ms: STARVE_MS, limit_ms: LIMIT_MS, profile: PROFILE, probe_interval_ms: PERIOD,
  node: process.version, simulated: true,
});
for (const scenario of SCENARIOS) {
  for (const digest of [true, false]) {
    const count = digest ? SEEDS : OFF_SEEDS;
    if (count === 0) continue;
    const started = now();
    const times: number[] = [];
    let diverged = 0;
    let unrepaired = 0;
    let syncs = 0;
    for (let seed = 1; seed <= count; seed++) {
      const options = { viewDigest: digest };
      const run = scenario === 'missed' ? await missed(seed, options)
        : scenario === 'pause' || scenario === 'starve' ? await starved(seed, options, scenario)
          : undefined;
      if (!run) throw new Error(`unknown scenario ${scenario}`);
      if (run.diverged) diverged++;
      if (run.repairMs === undefined) unrepaired++;
      times.push(run.repairMs ?? LIMIT_MS);
      syncs += run.syncs;
      progress(`${scenario} digest=${digest} seed=${seed}: diverged=${run.diverged} repair=${run.repairMs ?? `>${LIMIT_MS}`} ms syncs=${run.syncs}`);
    }
    times.sort((a, b) => a - b);
    const max = times[times.length - 1]!;
    emit({
      type: 'result', scenario, view_digest: digest, seeds: count, diverged, unrepaired,
      repair_ms_p50: rank(times, 50), repair_ms_p99: rank(times, 99), repair_ms_max: max,
      repair_periods_max: r1(max / PERIOD), digest_syncs_per_run: r1(syncs / count), wall_s: r1((now() - started) / 1000),
    });
  }
}
