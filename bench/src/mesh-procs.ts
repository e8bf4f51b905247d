/**
 * The mesh bench's multi-process mode: N Grapevine nodes, one child process each
 * (bench/src/mesh-proc.ts), driven over IPC. The brokers it is compared with run in a process of
 * their own; so do these nodes here, though N processes share the machine's cores (10 processes on
 * a 2-core machine are time-sliced, which the figures include).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { progress, sleep } from './util.js';

const WORKER = fileURLToPath(new URL('./mesh-proc.js', import.meta.url));

interface Reply { ev: string; [k: string]: unknown }

class Child {
  private waiting: ((m: Reply) => void)[] = [];
  private readonly exited: Promise<void>;
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: Reply) => {
      if (m.ev === 'error') throw new Error(`mesh child: ${String(m.message)}`);
      this.waiting.shift()?.(m);
    });
    this.exited = new Promise((r) => proc.once('exit', () => r()));
  }

  ask(cmd: Record<string, unknown>): Promise<Reply> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.proc.send(cmd);
    });
  }

  async close(): Promise<void> {
    // The child exits by itself after closing (and writes its --cpu-prof profile then).
    if (this.proc.connected) this.proc.send({ cmd: 'close' });
    await Promise.race([this.exited, sleep(10_000)]);
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    await this.exited;
  }
}

export interface ProcCluster {
  children: Child[];
  close(): Promise<void>;
}

/** Start N node processes; node 0 is every other node's seed. `profDir`: run each with --cpu-prof there. */
export async function startProcs(n: number, batchInterval: number, batchSize: number, profDir?: string): Promise<ProcCluster> {
  const children: Child[] = [];
  const execArgv = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  let seed: string | undefined;
  for (let i = 0; i < n; i++) {
    const c = new Child(fork(WORKER, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    children.push(c);
    const r = await c.ask({ cmd: 'start', name: `p${i}`, seeds: seed ? [seed] : [], batchInterval, batchSize });
    seed ??= String(r.address);
  }
  const end = Date.now() + 30_000;
  for (;;) {
    const alive = await Promise.all(children.map((c) => c.ask({ cmd: 'alive' })));
    if (alive.every((a) => a.alive === n)) break;
    if (Date.now() > end) throw new Error('grapevine processes did not converge');
    await sleep(100);
  }
  progress(`${n} node processes up`);
  return { children, close: () => Promise.all(children.map((c) => c.close())).then(() => undefined) };
}

export interface ProcLatency {
  /** Per key: publish time and the last subscriber's delivery time (NaN when one never got it). */
  sent: number[];
  last: number[];
  fetched: number;
  duplicates: number;
}

/** Node 0 publishes `k<i>` at `rate` for `seconds`; nodes 1..N−1 subscribe. */
export async function procLatency(pc: ProcCluster, rate: number, seconds: number, warmup = false): Promise<ProcLatency> {
  const total = rate * seconds;
  const subs = pc.children.slice(1);
  await Promise.all(subs.map((c) => c.ask({ cmd: 'subscribe', prefix: 'k', expect: total })));
  // `warmup`: one event (`t0`) the `k` subscribers do not match, so first contact happens now.
  if (warmup) await pc.children[0]!.ask({ cmd: 'throughput', keys: 1 });
  await sleep(500);
  await pc.children[0]!.ask({ cmd: 'latency', rate, seconds });
  await sleep(3000);
  const reports = await Promise.all(pc.children.map((c) => c.ask({ cmd: 'report' })));
  const sent = reports[0]!.sentAt as number[];
  const last = sent.map((_, i) => {
    let t = 0;
    for (const r of reports.slice(1)) {
      const g = (r.got as number[])[i]!;
      if (g === null || Number.isNaN(g)) return Number.NaN;
      t = Math.max(t, g);
    }
    return t;
  });
  return { sent, last, ...totals(reports) };
}

function totals(reports: Reply[]): { fetched: number; duplicates: number } {
  let fetched = 0;
  let duplicates = 0;
  for (const r of reports) {
    const m = r.metrics as { fetchedEvents: number; duplicates: number };
    fetched += m.fetchedEvents;
    duplicates += m.duplicates;
  }
  return { fetched, duplicates };
}

export interface ProcThroughput {
  complete: boolean;
  /** ms from the first publish to the last subscriber holding every key. */
  elapsed: number;
  publishMs: number;
  delivered: number;
  batches: number;
  eventsSent: number;
  fetched: number;
  duplicates: number;
  /** CPU (user + system) µs per key: the publisher's, and the subscribers' mean, from start to the progress poll that saw all. */
  pubCpuUsPerKey: number;
  subCpuUsPerKey: number;
}

/** Node 0 publishes `keys` keys as fast as it can; every other node subscribes; until all have all. */
export async function procThroughput(pc: ProcCluster, keys: number, timeoutMs = 60_000): Promise<ProcThroughput> {
  const subs = pc.children.slice(1);
  await Promise.all(subs.map((c) => c.ask({ cmd: 'subscribe', prefix: 't', expect: keys })));
  await sleep(500);
  const pub = await pc.children[0]!.ask({ cmd: 'throughput', keys });
  const end = Date.now() + timeoutMs;
  let reports: Reply[];
  for (;;) {
    reports = await Promise.all(pc.children.map((c) => c.ask({ cmd: 'progress' })));
    if (reports.slice(1).every((r) => r.count === keys) || Date.now() > end) break;
    await sleep(50);
  }
  const complete = reports.slice(1).every((r) => r.count === keys);
  const doneAt = Math.max(...reports.slice(1).map((r) => Number(r.doneAt)));
  if (process.env.MESH_BENCH_COUNTERS) {
    const full = await Promise.all(pc.children.map((c) => c.ask({ cmd: 'report' })));
    full.forEach((r, i) => progress(`node ${i} count ${String(r.count)} counters ${JSON.stringify(r.counters)}`));
  }
  const m0 = reports[0]!.metrics as { batches: number; eventsSent: number };
  return {
    complete,
    elapsed: doneAt - Number(pub.startedAt),
    publishMs: Number(pub.publishMs),
    delivered: reports.slice(1).reduce((s, r) => s + Number(r.count), 0),
    batches: m0.batches,
    eventsSent: m0.eventsSent,
    ...totals(reports),
    pubCpuUsPerKey: Number(reports[0]!.cpuUs) / keys,
    subCpuUsPerKey: reports.slice(1).reduce((s, r) => s + Number(r.cpuUs), 0) / subs.length / keys,
  };
}
