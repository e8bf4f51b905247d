/**
 * The cost of a mass join and of idling afterwards, for the core protocol alone: N Clusters on the
 * in-memory network (virtual clock, 1 ms links, the lan profile), every node joining one seed at
 * t=0, then --seconds simulated seconds of idle. Measures what the core's hot paths cost, not the
 * simulator's (bench:sim covers the whole scale report).
 *
 *   node bench/dist/join-idle.js [--n 500] [--seconds 60] [--codec msgpack|json] [--seed 1] [--pool]
 *
 * --pool passes one StringPool to every node (names, addresses and metadata stored once).
 *
 * Prints one JSON line: wall ms for the join and for join + idle, peak RSS, CPU ms per simulated
 * second over the idle part, whether every node sees every other alive at the end, and push-pull
 * bytes sent per node per simulated second over the idle part.
 */
import { Cluster, MemoryMetrics, StringPool, seededRandom, type ClusterOptions } from '@grapevine/core';
import { MemoryNetwork, VirtualClock } from '@grapevine/transport-memory';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { emit, now, progress, r1 } from './util.js';

const argv = process.argv.slice(2);
function arg(name: string, fallback: number): number {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}
const N = arg('--n', 500);
const SECONDS = arg('--seconds', 60);
const SEED = arg('--seed', 1);
const ci = argv.indexOf('--codec');
const CODEC = ci >= 0 ? argv[ci + 1] : 'msgpack';
const POOL = argv.includes('--pool');

let peakRss = 0;
const sampleRss = (): void => {
  const rss = process.memoryUsage().rss;
  if (rss > peakRss) peakRss = rss;
};

async function main(): Promise<void> {
  const clock = new VirtualClock({ maxTimersPerAdvance: 1e9 });
  const net = new MemoryNetwork({ clock, seed: SEED, defaultDelay: 1, jitter: 0 });
  const nodes: { cluster: Cluster; metrics: MemoryMetrics; name: string }[] = [];
  const options: Partial<ClusterOptions> = { profile: 'lan', ...(CODEC === 'msgpack' ? { codec: msgpackCodec } : {}), ...(POOL ? { stringPool: new StringPool() } : {}) };
  for (let i = 0; i < N; i++) {
    const t = net.createTransport(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:7946`);
    const metrics = new MemoryMetrics();
    const name = `node-${i}`;
    const cluster = await Cluster.create({ name, transport: t, clock, random: seededRandom(SEED * 7919 + i), metrics, ...options });
    nodes.push({ cluster, metrics, name });
  }
  const seed = `10.0.0.0:7946`;
  const t0 = now();
  let settled = false;
  const joins = Promise.all(nodes.slice(1).map((n) => n.cluster.join(seed))).finally(() => (settled = true));
  const simStart = clock.now();
  while (!settled) {
    await clock.advance(10);
    sampleRss();
  }
  await joins;
  const joinWall = now() - t0;
  const joinSim = clock.now() - simStart;
  progress(`joined in ${r1(joinWall)} ms wall, ${joinSim} simulated ms`);
  // The first half of the idle period lets the join's gossip settle; CPU is measured over the rest.
  const half = Math.floor(SECONDS / 2);
  for (let s = 0; s < half; s++) {
    await clock.advance(1000);
    sampleRss();
  }
  const bytesBefore = pushPullBytes(nodes);
  const cpu0 = process.cpuUsage();
  const w0 = now();
  for (let s = half; s < SECONDS; s++) {
    await clock.advance(1000);
    sampleRss();
  }
  const cpu = process.cpuUsage(cpu0);
  const idleWall = now() - w0;
  const idleSeconds = SECONDS - half;
  const totalWall = now() - t0;
  const alive = nodes.map((n) => n.cluster.members({ state: 'alive' }).length);
  const minAlive = Math.min(...alive);
  emit({
    scenario: 'join-idle', n: N, seconds: SECONDS, codec: CODEC, pool: POOL,
    join_wall_ms: r1(joinWall), join_sim_ms: joinSim, total_wall_ms: r1(totalWall), peak_rss_mb: r1(peakRss / 1048576),
    idle_cpu_ms_per_sim_s: r1((cpu.user + cpu.system) / 1000 / idleSeconds), idle_wall_ms_per_sim_s: r1(idleWall / idleSeconds),
    pushpull_bytes_per_node_s: r1((pushPullBytes(nodes) - bytesBefore) / N / idleSeconds),
    pushpull_bytes_per_node_total: r1(pushPullBytes(nodes) / N),
    min_alive_seen: minAlive, converged: minAlive === N,
  });
  for (const n of nodes) await n.cluster.close();
  await net.close();
}

/** Bytes of push-pull messages sent, summed over nodes (grapevine.pushpull.bytes-sent). */
function pushPullBytes(nodes: readonly { metrics: MemoryMetrics }[]): number {
  let s = 0;
  for (const n of nodes) s += n.metrics.counter('grapevine.pushpull.bytes-sent');
  return s;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
