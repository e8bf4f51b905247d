/**
 * Where the mesh bench's latency tail comes from (docs/mesh.md, "Latency work"). The latency
 * scenario of bench/src/mesh.ts — N nodes on loopback, node 0 publishes `k<i>` at a fixed rate,
 * the other N−1 subscribe, `batchInterval` 0 by default — with every node traced
 * (bench/src/mesh-trace-node.ts), then each event's publish → delivered-on-all time split into:
 *
 *   queue    publish() → the batch holding it handed to cluster.broadcast (the bus's batching)
 *   transit  broadcast → the first copy at the last subscriber (sends, hops, receive polls)
 *   held     first copy → delivered there (the mesh held it for per-origin order)
 *
 * with the hop count of that first copy, the copies each subscriber got, and the longest gap of a
 * 1 ms timer during the event, on the publisher and on the last subscriber (in one process they
 * share a loop), with how much of that gap the process spent on the CPU: a gap with CPU is our
 * own work blocking the loop, one without is the process waiting to be scheduled.
 *
 *   node bench/dist/mesh-trace.js [--n 10] [--rate 1000] [--seconds 5] [--mode single|procs]
 *                                 [--batch-interval 0] [--core broadcastFanout=9,...] [--no-warmup] [--verbose]
 *
 * As in bench/src/mesh.ts, one unmatched event goes first so first contact is not measured.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LoopSampler, TraceNode, type LoopTrace, type NodeTrace, type TraceNodeOptions } from './mesh-trace-node.js';
import { emit, paced, pct, progress, sleep } from './util.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    mode: { type: 'string', default: 'single' },
    'batch-interval': { type: 'string', default: '0' },
    core: { type: 'string', default: '' },
    label: { type: 'string', default: '' },
    'no-warmup': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const TOTAL = RATE * SECONDS;
const MODE = values.mode!;
const BATCH_INTERVAL = Number(values['batch-interval']);
const CORE: Record<string, number> = {};
for (const kv of values.core!.split(',').filter(Boolean)) {
  const [k, v] = kv.split('=');
  CORE[k!] = Number(v);
}
const HOP_LIMIT = CORE.broadcastHops || Math.min(255, Math.ceil(Math.log2(N + 1)) + 4);
const WARMUP = !values['no-warmup'];
const WORKER = fileURLToPath(new URL('./mesh-trace-node.js', import.meta.url));

interface Run { traces: NodeTrace[]; loops: LoopTrace[] }

async function single(): Promise<Run> {
  const nodes: TraceNode[] = [];
  let seed: string | undefined;
  for (let i = 0; i < N; i++) {
    const t = new TraceNode();
    const addr = await t.start({ name: `t${i}`, seeds: seed ? [seed] : [], batchInterval: BATCH_INTERVAL, core: CORE });
    seed ??= addr;
    nodes.push(t);
  }
  await converge(async () => nodes.map((t) => t.cluster.counts().alive));
  for (const [i, t] of nodes.entries()) {
    t.reset(TOTAL);
    if (i > 0) t.subscribe();
  }
  const sampler = new LoopSampler();
  sampler.start();
  if (WARMUP) nodes[0]!.bus.publish('warmup');
  await sleep(500);
  await paced(RATE, SECONDS, (i) => nodes[0]!.publish(i));
  await sleep(3000);
  const loop = sampler.stop();
  const traces = nodes.map((t) => t.trace());
  for (const t of nodes) await t.close();
  return { traces, loops: nodes.map(() => loop) };
}

class Child {
  private waiting: ((m: Record<string, unknown>) => void)[] = [];
  readonly exited: Promise<void>;
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: Record<string, unknown>) => {
      if (m.ev === 'error') throw new Error(`trace child: ${String(m.message)}`);
      this.waiting.shift()?.(m);
    });
    this.exited = new Promise((r) => proc.once('exit', () => r()));
  }

  ask(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.proc.send(cmd);
    });
  }
}

async function procs(): Promise<Run> {
  const kids: Child[] = [];
  let seed: string | undefined;
  try {
    for (let i = 0; i < N; i++) {
      const c = new Child(fork(WORKER, ['child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
      kids.push(c);
      const opts: TraceNodeOptions = { name: `t${i}`, seeds: seed ? [seed] : [], batchInterval: BATCH_INTERVAL, core: CORE };
      const r = await c.ask({ cmd: 'start', opts });
      seed ??= String(r.address);
    }
    await converge(async () => (await Promise.all(kids.map((c) => c.ask({ cmd: 'alive' })))).map((a) => Number(a.alive)));
    await Promise.all(kids.map((c, i) => c.ask({ cmd: 'arm', total: TOTAL, subscribe: i > 0 })));
    if (WARMUP) await kids[0]!.ask({ cmd: 'warmup' });
    await sleep(500);
    await kids[0]!.ask({ cmd: 'publish', rate: RATE, seconds: SECONDS });
    await sleep(3000);
    const reports = await Promise.all(kids.map((c) => c.ask({ cmd: 'report' })));
    return { traces: reports.map((r) => r.trace as NodeTrace), loops: reports.map((r) => r.loop as LoopTrace) };
  } finally {
    for (const c of kids) if (c.proc.connected) c.proc.send({ cmd: 'close' });
    await Promise.race([Promise.all(kids.map((c) => c.exited)), sleep(10_000)]);
    for (const c of kids) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGTERM');
  }
}

async function converge(alive: () => Promise<number[]>): Promise<void> {
  const end = Date.now() + 30_000;
  while (!(await alive()).every((a) => a === N)) {
    if (Date.now() > end) throw new Error('cluster did not converge');
    await sleep(50);
  }
}

/** The longest gap between two sampler firings overlapping [t0, t1], and the CPU ms spent in it. */
function longestGap(loop: LoopTrace, t0: number, t1: number): { gap: number; cpu: number } {
  const { at, cpu } = loop;
  let lo = 0;
  let hi = at.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (at[mid]! < t0) lo = mid + 1;
    else hi = mid;
  }
  let best = { gap: 0, cpu: 0 };
  for (let k = Math.max(1, lo); k < at.length && at[k - 1]! <= t1; k++) {
    const g = at[k]! - at[k - 1]!;
    if (g > best.gap) best = { gap: g, cpu: (cpu[k]! - cpu[k - 1]!) / 1000 };
  }
  return best;
}

/** GC time (ms) overlapping [t0, t1], and the longest single pause. */
function gcIn(loop: LoopTrace, t0: number, t1: number): { ms: number; max: number } {
  let ms = 0;
  let max = 0;
  for (const [s, d] of loop.gc) {
    const o = Math.min(t1, s + d) - Math.max(t0, s);
    if (o > 0) (ms += o), (max = Math.max(max, d));
  }
  return { ms, max };
}

/** Whole-run loop figures of one process: gaps over 2 ms, their total, and the share without CPU. */
function loopSummary(loop: LoopTrace): Record<string, number> {
  let gaps = 0;
  let gapMs = 0;
  let offCpu = 0;
  let max = 0;
  for (let k = 1; k < loop.at.length; k++) {
    const g = loop.at[k]! - loop.at[k - 1]!;
    max = Math.max(max, g);
    if (g <= 2) continue;
    gaps++;
    gapMs += g;
    offCpu += Math.max(0, g - (loop.cpu[k]! - loop.cpu[k - 1]!) / 1000);
  }
  const span = (loop.at[loop.at.length - 1] ?? 0) - (loop.at[0] ?? 0);
  const cpuMs = ((loop.cpu[loop.cpu.length - 1] ?? 0) - (loop.cpu[0] ?? 0)) / 1000;
  const gcMs = loop.gc.reduce((a, g) => a + g[1], 0);
  const gcMax = loop.gc.reduce((a, g) => Math.max(a, g[1]), 0);
  return { gc_count: loop.gc.length, gc_ms: r2(gcMs), gc_max_ms: r2(gcMax), gaps_over_2ms: gaps, gap_ms: r2(gapMs), gap_off_cpu_ms: r2(offCpu), max_gap_ms: r2(max), cpu_share: r2(cpuMs / span) };
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

function analyse(run: Run): void {
  const { traces, loops } = run;
  const pub = traces[0]!;
  const subs = traces.slice(1);
  interface Ev { i: number; lat: number; last: number; queue: number; transit: number; held: number; hops: number }
  const evs: Ev[] = [];
  let incomplete = 0;
  const hopsHist = new Map<number, number>();
  let pairs = 0;
  let heldPairs = 0;
  let heldMs = 0;
  let copies = 0;
  let reliablePairs = 0;
  for (let i = 0; i < TOTAL; i++) {
    const t0 = pub.publishedAt[i]!;
    let last = -1;
    let lat = -Infinity;
    for (let s = 0; s < subs.length; s++) {
      const d = subs[s]!.delivered[i];
      if (d === null || d === undefined || Number.isNaN(d)) {
        last = -2;
        break;
      }
      if (d - t0 > lat) (lat = d - t0), (last = s);
      const f = subs[s]!.first[i]!;
      pairs++;
      const h = HOP_LIMIT - subs[s]!.hops[i]! + 1;
      hopsHist.set(h, (hopsHist.get(h) ?? 0) + 1);
      copies += subs[s]!.copies[i]!;
      if (subs[s]!.reliable[i]) reliablePairs++;
      if (d - f > 0.1) (heldPairs++, (heldMs += d - f));
    }
    if (last < 0) {
      incomplete++;
      continue;
    }
    const st = subs[last]!;
    evs.push({
      i, lat, last: last + 1,
      queue: pub.broadcastAt[i]! - t0,
      transit: st.first[i]! - pub.broadcastAt[i]!,
      held: st.delivered[i]! - st.first[i]!,
      hops: HOP_LIMIT - st.hops[i]! + 1,
    });
  }
  const sorted = evs.map((e) => e.lat).sort((a, b) => a - b);
  const p99 = pct(sorted, 99);
  const slow = evs.filter((e) => e.lat >= p99);
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
  const slowGaps = slow.map((e) => {
    const t0 = pub.publishedAt[e.i]!;
    const t1 = t0 + e.lat;
    return { pub: longestGap(loops[0]!, t0, t1), sub: longestGap(loops[e.last]!, t0, t1), gc: gcIn(loops[e.last]!, t0, t1) };
  });
  // Runs of slow events with consecutive indices (one batch or one stall).
  let runs = 0;
  for (let k = 0; k < slow.length; k++) if (k === 0 || slow[k]!.i !== slow[k - 1]!.i + 1) runs++;
  emit({
    scenario: 'mesh-trace', mode: MODE, warmup: WARMUP, label: values.label, n: N, rate: RATE, seconds: SECONDS, batchInterval: BATCH_INTERVAL, core: CORE,
    loadavg_1m: r2(loadavg()[0]!), published: TOTAL, incomplete,
    p50_ms: r2(pct(sorted, 50)), p90_ms: r2(pct(sorted, 90)), p99_ms: r2(p99), max_ms: r2(sorted[sorted.length - 1] ?? Number.NaN),
    all: {
      queue_ms_mean: r2(mean(evs.map((e) => e.queue))), transit_ms_mean: r2(mean(evs.map((e) => e.transit))), held_ms_mean: r2(mean(evs.map((e) => e.held))),
      first_copy_hops: Object.fromEntries([...hopsHist].sort((a, b) => a[0] - b[0])),
      held_pairs: heldPairs, held_pair_share: r2(heldPairs / pairs), held_ms_per_held_pair: r2(heldMs / Math.max(1, heldPairs)),
      copies_per_pair: r2(copies / pairs), reliable_first_copies: reliablePairs,
    },
    slow: {
      count: slow.length, runs,
      queue_ms_mean: r2(mean(slow.map((e) => e.queue))), transit_ms_mean: r2(mean(slow.map((e) => e.transit))), held_ms_mean: r2(mean(slow.map((e) => e.held))),
      hops_of_last: Object.fromEntries(countBy(slow.map((e) => e.hops))),
      held_over_1ms: slow.filter((e) => e.held > 1).length,
      pub_gap_ms_mean: r2(mean(slowGaps.map((g) => g.pub.gap))), pub_gap_cpu_ms_mean: r2(mean(slowGaps.map((g) => g.pub.cpu))),
      sub_gap_ms_mean: r2(mean(slowGaps.map((g) => g.sub.gap))), sub_gap_cpu_ms_mean: r2(mean(slowGaps.map((g) => g.sub.cpu))),
      gc_ms_mean: r2(mean(slowGaps.map((g) => g.gc.ms))),
      gap_over_half_latency: slowGaps.filter((g, k) => Math.max(g.pub.gap, g.sub.gap) > slow[k]!.lat / 2).length,
    },
    counters: sumRows(traces.map((t) => t.counters)),
    loop: MODE === 'single' ? loopSummary(loops[0]!) : { publisher: loopSummary(loops[0]!), subscribers_mean: meanRows(loops.slice(1).map(loopSummary)) },
  });
  // One line per run of slow events (a stall usually slows every event published during it).
  for (let k = 0, r = 0; k < slow.length && r < 12; r++) {
    let j = k;
    while (j + 1 < slow.length && slow[j + 1]!.i === slow[j]!.i + 1) j++;
    const s0 = slow[k]!;
    const worst = slow.slice(k, j + 1).reduce((a, b) => (b.lat > a.lat ? b : a));
    const g = slowGaps[slow.indexOf(worst)]!;
    progress(`slow run k${s0.i}..k${slow[j]!.i} (${j - k + 1}) at +${(pub.publishedAt[s0.i]! - pub.publishedAt[0]!).toFixed(0)} ms: worst ${worst.lat.toFixed(2)} ms (sub ${worst.last}: transit ${worst.transit.toFixed(2)} held ${worst.held.toFixed(2)}, ${worst.hops} hops; loop gap pub ${g.pub.gap.toFixed(1)} ms cpu ${g.pub.cpu.toFixed(1)}, sub ${g.sub.gap.toFixed(1)} cpu ${g.sub.cpu.toFixed(1)}; gc ${g.gc.ms.toFixed(1)} ms, longest ${g.gc.max.toFixed(1)})`);
    k = j + 1;
  }
  for (const e of slow.slice(0, values.verbose ? 12 : 0)) {
    const g = slowGaps[slow.indexOf(e)]!;
    progress(`slow k${e.i} at +${(pub.publishedAt[e.i]! - pub.publishedAt[0]!).toFixed(0)} ms: ${e.lat.toFixed(2)} ms (sub ${e.last}: queue ${e.queue.toFixed(2)} transit ${e.transit.toFixed(2)} held ${e.held.toFixed(2)}, ${e.hops} hops; loop gap pub ${g.pub.gap.toFixed(1)} ms cpu ${g.pub.cpu.toFixed(1)}, sub ${g.sub.gap.toFixed(1)} cpu ${g.sub.cpu.toFixed(1)}; gc ${g.gc.ms.toFixed(1)} ms)`);
  }
}

function countBy(xs: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return new Map([...m].sort((a, b) => a[0] - b[0]));
}

function sumRows(rows: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function meanRows(rows: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(rows[0] ?? {})) out[k] = r2(rows.reduce((a, r) => a + r[k]!, 0) / rows.length);
  return out;
}

progress(`mesh trace: ${MODE}, N=${N}, ${RATE}/s for ${SECONDS} s, core ${JSON.stringify(CORE)}`);
analyse(MODE === 'procs' ? await procs() : await single());
process.exit(0);
