/**
 * CPU of the mesh latency scenario's work without sockets or a scheduler: the latency bench's
 * cluster (N nodes, one publisher, `batchInterval` 0, one key per millisecond) on the in-memory
 * network and the virtual clock (msgpack, profile lan), seeded, so every round sends the same
 * packets and only the CPU differs between builds. On the loaded shared machine the latency
 * percentiles of bench/src/mesh.ts swing several-fold from run to run; this is the steady
 * companion for before/after comparisons of the per-event path (docs/mesh.md, "Latency work").
 * Reports, per published event (all N nodes' work): process CPU µs, garbage collections and their
 * pause ms over the run, and broadcast copies refused as duplicates; median of `--rounds` after
 * one more round that warms the JIT up and is not counted (the first rounds run about 2x slower).
 *
 *   node bench/dist/mesh-latency-cpu.js [--n 10] [--events 5000] [--rounds 5]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Cluster, MemoryMetrics, seededRandom } from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { createMesh } from '@grapevine/mesh';
import { MemoryNetwork, VirtualClock } from '@grapevine/transport-memory';
import { emit } from './util.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10' },
    events: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '5' },
  },
});
const N = Number(values.n);
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);

interface Round { cpuUs: number; gcCount: number; gcMs: number; duplicates: number; complete: boolean }

async function round(seed: number): Promise<Round> {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, seed, defaultDelay: 0.2, jitter: 0 });
  const clusters: Cluster[] = [];
  const metrics: MemoryMetrics[] = [];
  for (let i = 0; i < N; i++) {
    const t = net.createTransport(`10.0.0.${i + 1}:7946`);
    const m = new MemoryMetrics();
    metrics.push(m);
    clusters.push(await Cluster.create({ name: `c${i}`, transport: t, clock, random: seededRandom(seed * 7919 + i), metrics: m, codec: msgpackCodec, profile: 'lan' }));
  }
  for (const c of clusters.slice(1)) void c.join(clusters[0]!.localNode.address).catch(() => undefined);
  if (!(await clock.runUntil(() => clusters.every((c) => c.counts().alive === N), { timeout: 60_000, step: 50 }))) throw new Error('cluster did not form');
  const buses = clusters.map((c) => createMesh(c, { batchInterval: 0 }));
  const counts = buses.map(() => 0);
  buses.forEach((b, i) => b.subscribe({ prefix: 'k' }, (e) => { if (e.type === 'invalidate') counts[i]!++; }));
  buses[0]!.publish('warmup');
  await clock.advance(1000);
  const dup0 = metrics.reduce((a, m) => a + (m.counters.get('grapevine.broadcast.duplicate') ?? 0), 0);
  const gc = { count: 0, ms: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) (gc.count++, (gc.ms += e.duration));
  });
  obs.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < EVENTS; i++) {
    buses[0]!.publish(`k${i}`);
    await clock.advance(1);
  }
  const complete = await clock.runUntil(() => counts.slice(1).every((c) => c === EVENTS), { timeout: 60_000, step: 1 });
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setImmediate(r)); // let the observer deliver the last entries
  obs.disconnect();
  const duplicates = metrics.reduce((a, m) => a + (m.counters.get('grapevine.broadcast.duplicate') ?? 0), 0) - dup0;
  for (const b of buses) await b.close();
  for (const c of clusters) await c.close();
  await net.close();
  return { cpuUs: cpu.user + cpu.system, gcCount: gc.count, gcMs: gc.ms, duplicates, complete };
}

const rounds: Round[] = [];
await round(ROUNDS + 1);
for (let r = 0; r < ROUNDS; r++) rounds.push(await round(r + 1));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const r2 = (x: number): number => Math.round(x * 100) / 100;
emit({
  scenario: 'mesh-latency-cpu', n: N, events: EVENTS, rounds: ROUNDS, complete: rounds.every((r) => r.complete),
  cpu_us_per_event: r2(median(rounds.map((r) => r.cpuUs / EVENTS))),
  cpu_us_per_event_all: rounds.map((r) => r2(r.cpuUs / EVENTS)),
  gc_per_1000_events: r2(median(rounds.map((r) => (r.gcCount * 1000) / EVENTS))),
  gc_ms_per_1000_events: r2(median(rounds.map((r) => (r.gcMs * 1000) / EVENTS))),
  duplicates_per_event: r2(median(rounds.map((r) => r.duplicates / EVENTS))),
});
process.exit(0);
