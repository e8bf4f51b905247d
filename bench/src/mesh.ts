/**
 * The mesh bus beside Redis pub/sub and NATS, on one machine, in one run (docs/benchmarks.md):
 *   latency    N nodes on 127.0.0.1 (createCluster, UDP+TCP), 1 publisher at a fixed rate, N−1
 *              subscribers: publish → delivered on every subscriber, p50/p99; Redis and NATS with
 *              1 publisher and N−1 subscribing clients at the same rate
 *   throughput as many keys as the publisher can batch, until every subscriber has them all (with
 *              CPU µs per key: of the one process in single mode; of the publisher and of a
 *              subscriber on average in procs mode)
 *   enqueue    local publish() calls per second (no delivery: Warp Mesh's 1.3M ops/s figure counts
 *              local cache reads, so this is the comparable local-only number)
 * Redis (`redis-server`) and NATS (`nats-server`) are Debian's, started here on free loopback
 * ports and stopped at the end; a missing one is installed with apt-get when we run as root, and
 * skipped (a `skipped` line) otherwise. The Redis and NATS clients are a few lines of their text
 * protocols, so no client library's batching stands between the socket and the clock.
 *
 *   node bench/dist/mesh.js [--n 10] [--rate 1000] [--seconds 5] [--keys 200000] [--batch-size 20]
 *                           [--only latency,throughput,enqueue] [--mode procs,single] [--prof-dir DIR]
 *                           [--no-warmup] [--batch-intervals 100,0]
 *
 * --mode procs runs each Grapevine node in its own child process (bench/src/mesh-procs.ts; N
 * processes time-share the machine's cores), single runs all N in this process; the default runs
 * both. --prof-dir DIR starts every node process with `node --cpu-prof` writing there.
 * Before a latency run the publisher sends one event no subscriber matches, so each receiver's
 * first contact with it (a fetch asking where to start, which holds what arrives meanwhile: ~1%
 * of a 5 s run at 1,000/s) is not measured; --no-warmup measures it too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createCluster, type NodeCluster } from '@grapevine/node';
import { createMesh, type MeshBus } from '@grapevine/mesh';
import { procLatency, procThroughput, startProcs } from './mesh-procs.js';
import { emit, now, pct, progress, sleep } from './util.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    keys: { type: 'string', default: '200000' },
    only: { type: 'string' },
    'batch-size': { type: 'string', default: '20' },
    mode: { type: 'string', default: 'procs,single' },
    'prof-dir': { type: 'string' },
    'no-warmup': { type: 'boolean', default: false },
    'batch-intervals': { type: 'string', default: '100,0' },
  },
});
const N = Number(values.n);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const KEYS = Number(values.keys);
/** The bus's batchSize for the throughput run (20 is the default; larger batches still stop at one packet). */
const BATCH_SIZE = Number(values['batch-size']);
const only = values.only ? new Set(values.only.split(',')) : undefined;
const want = (name: string): boolean => !only || only.has(name);
/** Where the Grapevine nodes run: `procs` (one child process each) and/or `single` (all in this one). */
const modes = new Set(values.mode!.split(','));
const PROF_DIR = values['prof-dir'];
/** Latency runs: publish one unmatched event first, so first contact is not in the measured run. */
const WARMUP = !values['no-warmup'];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Fire `fn(i)` RATE times a second for SECONDS, on a steady schedule (catching up if late). */
async function paced(fn: (i: number) => void): Promise<number> {
  const total = RATE * SECONDS;
  const start = now();
  let i = 0;
  while (i < total) {
    const due = Math.floor(((now() - start) * RATE) / 1000) + 1;
    while (i < Math.min(due, total)) fn(i++);
    await sleep(1);
  }
  return total;
}

function latencyRow(system: string, extra: Record<string, unknown>, sent: Map<number, number>, last: Map<number, { at: number; count: number }>, subs: number): void {
  const lat: number[] = [];
  let incomplete = 0;
  for (const [i, t0] of sent) {
    const l = last.get(i);
    if (!l || l.count < subs) incomplete++;
    else lat.push(l.at - t0);
  }
  lat.sort((a, b) => a - b);
  emit({ scenario: 'mesh-latency', system, n: subs + 1, rate: RATE, seconds: SECONDS, ...extra, published: sent.size, incomplete, p50_ms: round(pct(lat, 50)), p99_ms: round(pct(lat, 99)), max_ms: round(lat[lat.length - 1] ?? NaN) });
}

const round = (x: number): number => Math.round(x * 100) / 100;

// ---- Grapevine ----------------------------------------------------------------------------------

async function grapevineCluster(batchInterval: number, batchSize = 20): Promise<{ clusters: NodeCluster[]; buses: MeshBus[] }> {
  const clusters: NodeCluster[] = [];
  for (let i = 0; i < N; i++) {
    clusters.push(await createCluster({ name: `b${i}`, bind: '127.0.0.1:0', seeds: i === 0 ? [] : [clusters[0]!.localNode.address], profile: 'lan' }));
  }
  const end = Date.now() + 30_000;
  while (!clusters.every((c) => c.counts().alive === N)) {
    if (Date.now() > end) throw new Error('grapevine cluster did not converge');
    await sleep(50);
  }
  const buses = clusters.map((c) => createMesh(c, { batchInterval, batchSize }));
  return { clusters, buses };
}

async function closeAll(clusters: NodeCluster[], buses: MeshBus[]): Promise<void> {
  for (const b of buses) await b.close();
  await Promise.all(clusters.map((c) => c.close()));
}

async function grapevineLatency(batchInterval: number): Promise<void> {
  progress(`grapevine latency, batchInterval ${batchInterval}`);
  const { clusters, buses } = await grapevineCluster(batchInterval);
  const sent = new Map<number, number>();
  const last = new Map<number, { at: number; count: number }>();
  for (const b of buses.slice(1)) {
    b.subscribe({ prefix: 'k' }, (e) => {
      if (e.type !== 'invalidate') return;
      const i = Number(e.key.slice(1));
      const l = last.get(i);
      if (l) (l.count++, (l.at = now()));
      else last.set(i, { at: now(), count: 1 });
    });
  }
  // One event no subscriber matches, so each receiver's first contact with the origin (a fetch
  // that asks where to start, holding what arrives meanwhile) is done before the measured run, as
  // a broker's subscribers have connected before it starts.
  if (WARMUP) buses[0]!.publish('warmup');
  await sleep(500);
  // CPU and GC of the ten nodes over the publishing window: steadier than wall-clock percentiles
  // on a shared machine, and what the tail's loop stalls are made of (docs/mesh.md, "Latency work").
  const gc = gcWatch();
  const cpu0 = process.cpuUsage();
  await paced((i) => {
    sent.set(i, now());
    buses[0]!.publish(`k${i}`);
  });
  const cpu = process.cpuUsage(cpu0);
  const gcs = gc.stop();
  await sleep(3000);
  latencyRow('grapevine-mesh', {
    mode: 'single', batchInterval, fetched_events: buses.reduce((a, b) => a + b.metrics().fetchedEvents, 0), duplicates: buses.reduce((a, b) => a + b.metrics().duplicates, 0),
    broadcast_duplicates: clusters.reduce((a, c) => a + counter(c, 'grapevine.broadcast.duplicate'), 0),
    cpu_us_per_event: round((cpu.user + cpu.system) / (RATE * SECONDS)), gc_count: gcs.count, gc_ms: round(gcs.ms), gc_max_ms: round(gcs.max),
  }, sent, last, N - 1);
  await closeAll(clusters, buses);
}

/** Garbage collections from now until stop(): how many, their total and longest pause (ms). */
function gcWatch(): { stop(): { count: number; ms: number; max: number } } {
  const r = { count: 0, ms: 0, max: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) (r.count++, (r.ms += e.duration), (r.max = Math.max(r.max, e.duration)));
  });
  obs.observe({ entryTypes: ['gc'] });
  return { stop: () => (obs.disconnect(), r) };
}

/** A counter of the cluster's metrics, when its metrics keep counters (the default in-memory ones). */
function counter(c: NodeCluster, name: string): number {
  return (c.metrics as { counters?: Map<string, number> } | undefined)?.counters?.get(name) ?? 0;
}

async function grapevineThroughput(): Promise<void> {
  progress('grapevine throughput');
  const { clusters, buses } = await grapevineCluster(100, BATCH_SIZE);
  const counts = buses.map(() => 0);
  buses.forEach((b, i) => b.subscribe({ prefix: 't' }, (e) => { if (e.type === 'invalidate') counts[i]!++; }));
  await sleep(500);
  const start = now();
  const cpu0 = process.cpuUsage();
  // Publish in slices so the event loop keeps turning (the bus and the sockets share it).
  for (let i = 0; i < KEYS; ) {
    const stop = Math.min(KEYS, i + 2000);
    for (; i < stop; i++) buses[0]!.publish(`t${i}`);
    await new Promise((r) => setImmediate(r));
  }
  const published = now() - start;
  const end = Date.now() + 120_000;
  while (!counts.slice(1).every((c) => c === KEYS) && Date.now() < end) await sleep(5);
  const elapsed = now() - start;
  const cpu = process.cpuUsage(cpu0);
  const delivered = counts.slice(1).reduce((a, b) => a + b, 0);
  const m = buses[0]!.metrics();
  emit({ scenario: 'mesh-throughput', system: 'grapevine-mesh', mode: 'single', n: N, keys: KEYS, batchSize: BATCH_SIZE, complete: counts.slice(1).every((c) => c === KEYS), publish_ms: round(published), all_delivered_ms: round(elapsed), keys_per_s: Math.round((KEYS * 1000) / elapsed), deliveries_per_s: Math.round((delivered * 1000) / elapsed), batches: m.batches, keys_per_batch: round(m.eventsSent / m.batches), fetched_events: buses.reduce((s, b) => s + b.metrics().fetchedEvents, 0), duplicates: buses.reduce((s, b) => s + b.metrics().duplicates, 0), cpu_us_per_key_all_nodes: round((cpu.user + cpu.system) / KEYS) });
  await closeAll(clusters, buses);
}

async function grapevineEnqueue(): Promise<void> {
  progress('grapevine enqueue');
  const c = await createCluster({ name: 'solo', bind: '127.0.0.1:0' });
  const bus = createMesh(c, { allowAlone: true, batchInterval: 60_000, batchSize: 10_000 });
  // One hot key (the pending-dedup path) and distinct keys (each a new batch entry, flushed per batch).
  for (const [kind, key] of [['same-key', (_i: number) => 'hot'], ['distinct-keys', (i: number) => `d${i % 5000}`]] as const) {
    const ops = 2_000_000;
    for (let i = 0; i < 50_000; i++) bus.publish(key(i)); // warm up
    bus.flush();
    const t0 = now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < ops; i++) bus.publish(key(i));
    const ms = now() - t0;
    const cpu = process.cpuUsage(cpu0);
    bus.flush();
    // Process CPU time beside wall time: on a shared machine it is the steadier of the two.
    const cpuMs = (cpu.user + cpu.system) / 1000;
    emit({ scenario: 'mesh-enqueue', system: 'grapevine-mesh', kind, ops, ms: round(ms), ops_per_s: Math.round((ops * 1000) / ms), cpu_ms: round(cpuMs), cpu_ops_per_s: Math.round((ops * 1000) / cpuMs) });
  }
  await bus.close();
  await c.close();
}

async function procsLatency(batchInterval: number): Promise<void> {
  progress(`grapevine latency (${N} processes), batchInterval ${batchInterval}`);
  const pc = await startProcs(N, batchInterval, 20, PROF_DIR);
  try {
    const r = await procLatency(pc, RATE, SECONDS, WARMUP);
    const sent = new Map<number, number>();
    const last = new Map<number, { at: number; count: number }>();
    r.sent.forEach((t, i) => {
      sent.set(i, t);
      if (!Number.isNaN(r.last[i]!)) last.set(i, { at: r.last[i]!, count: N - 1 });
    });
    latencyRow('grapevine-mesh', { mode: 'procs', batchInterval, fetched_events: r.fetched, duplicates: r.duplicates }, sent, last, N - 1);
  } finally {
    await pc.close();
  }
}

async function procsThroughput(): Promise<void> {
  progress(`grapevine throughput (${N} processes)`);
  const pc = await startProcs(N, 100, BATCH_SIZE, PROF_DIR);
  try {
    const r = await procThroughput(pc, KEYS);
    emit({ scenario: 'mesh-throughput', system: 'grapevine-mesh', mode: 'procs', n: N, keys: KEYS, batchSize: BATCH_SIZE, complete: r.complete, publish_ms: round(r.publishMs), all_delivered_ms: round(r.elapsed), keys_per_s: Math.round((KEYS * 1000) / r.elapsed), deliveries_per_s: Math.round((r.delivered * 1000) / r.elapsed), batches: r.batches, keys_per_batch: round(r.eventsSent / r.batches), fetched_events: r.fetched, duplicates: r.duplicates, pub_cpu_us_per_key: round(r.pubCpuUsPerKey), sub_cpu_us_per_key: round(r.subCpuUsPerKey) });
  } finally {
    await pc.close();
  }
}

// ---- Redis and NATS -----------------------------------------------------------------------------

function ensureBinary(bin: string, pkg: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0) return true;
  if (process.getuid?.() !== 0) return false;
  progress(`installing ${pkg} with apt-get`);
  spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'ignore' });
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

async function startServer(bin: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(bin, args, { stdio: 'ignore' });
  const end = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.end(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return child;
    if (Date.now() > end) throw new Error(`${bin} did not start`);
    await sleep(50);
  }
}

function sock(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
    s.on('error', reject);
  });
}

/** Watch a byte stream for "k<digits>" payload markers and report each number once per line. */
function markers(s: Socket, onKey: (i: number) => void): void {
  let buf = '';
  s.setEncoding('latin1');
  s.on('data', (d: string) => {
    buf += d;
    const re = /@k(\d+)@/g;
    let m: RegExpExecArray | null;
    let cut = 0;
    while ((m = re.exec(buf))) {
      onKey(Number(m[1]));
      cut = re.lastIndex;
    }
    buf = buf.slice(Math.max(cut, buf.length - 64));
  });
}

async function brokerLatency(system: 'redis' | 'nats'): Promise<void> {
  const [bin, pkg] = system === 'redis' ? ['redis-server', 'redis-server'] : ['nats-server', 'nats-server'];
  if (!ensureBinary(bin, pkg)) {
    emit({ scenario: 'mesh-latency', system, skipped: `${bin} not installed` });
    return;
  }
  progress(`${system} latency`);
  const port = await freePort();
  const server = await startServer(bin, system === 'redis' ? ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'] : ['-a', '127.0.0.1', '-p', String(port)], port);
  try {
    const sent = new Map<number, number>();
    const last = new Map<number, { at: number; count: number }>();
    const subs: Socket[] = [];
    for (let k = 0; k < N - 1; k++) {
      const s = await sock(port);
      markers(s, (i) => {
        const l = last.get(i);
        if (l) (l.count++, (l.at = now()));
        else last.set(i, { at: now(), count: 1 });
      });
      s.write(system === 'redis' ? 'SUBSCRIBE inval\r\n' : 'CONNECT {"verbose":false,"pedantic":false}\r\nSUB inval 1\r\n');
      subs.push(s);
    }
    const pub = await sock(port);
    pub.setEncoding('latin1');
    pub.on('data', () => undefined);
    if (system === 'nats') pub.write('CONNECT {"verbose":false,"pedantic":false}\r\n');
    await sleep(500);
    await paced((i) => {
      const payload = `@k${i}@`;
      sent.set(i, now());
      pub.write(system === 'redis' ? `*3\r\n$7\r\nPUBLISH\r\n$5\r\ninval\r\n$${payload.length}\r\n${payload}\r\n` : `PUB inval ${payload.length}\r\n${payload}\r\n`);
    });
    await sleep(2000);
    latencyRow(system, {}, sent, last, N - 1);
    for (const s of [...subs, pub]) s.destroy();
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

async function brokerThroughput(system: 'redis' | 'nats'): Promise<void> {
  const bin = system === 'redis' ? 'redis-server' : 'nats-server';
  if (!ensureBinary(bin, bin)) {
    emit({ scenario: 'mesh-throughput', system, skipped: `${bin} not installed` });
    return;
  }
  progress(`${system} throughput`);
  const port = await freePort();
  const server = await startServer(bin, system === 'redis' ? ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--client-output-buffer-limit', 'pubsub 0 0 0'] : ['-a', '127.0.0.1', '-p', String(port)], port);
  try {
    const counts: number[] = [];
    const subs: Socket[] = [];
    for (let k = 0; k < N - 1; k++) {
      const s = await sock(port);
      counts.push(0);
      markers(s, () => counts[k]!++);
      s.write(system === 'redis' ? 'SUBSCRIBE inval\r\n' : 'CONNECT {"verbose":false,"pedantic":false}\r\nSUB inval 1\r\n');
      subs.push(s);
    }
    const pub = await sock(port);
    pub.setEncoding('latin1');
    pub.on('data', () => undefined);
    if (system === 'nats') pub.write('CONNECT {"verbose":false,"pedantic":false}\r\n');
    await sleep(500);
    const start = now();
    for (let i = 0; i < KEYS; ) {
      let chunk = '';
      const stop = Math.min(KEYS, i + 2000);
      for (; i < stop; i++) {
        const payload = `@k${i}@`;
        chunk += system === 'redis' ? `*3\r\n$7\r\nPUBLISH\r\n$5\r\ninval\r\n$${payload.length}\r\n${payload}\r\n` : `PUB inval ${payload.length}\r\n${payload}\r\n`;
      }
      if (!pub.write(chunk)) await new Promise((r) => pub.once('drain', r));
      await new Promise((r) => setImmediate(r));
    }
    const end = Date.now() + 120_000;
    while (!counts.every((c) => c >= KEYS) && Date.now() < end) await sleep(5);
    const elapsed = now() - start;
    emit({ scenario: 'mesh-throughput', system, n: N, keys: KEYS, complete: counts.every((c) => c >= KEYS), all_delivered_ms: round(elapsed), keys_per_s: Math.round((KEYS * 1000) / elapsed), deliveries_per_s: Math.round((counts.reduce((a, b) => a + b, 0) * 1000) / elapsed) });
    for (const s of [...subs, pub]) s.destroy();
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

const load = (await import('node:os')).loadavg()[0];
emit({ scenario: 'mesh-env', node: process.version, cpus: (await import('node:os')).cpus().length, loadavg_1m: round(load ?? 0) });
if (want('latency')) {
  for (const bi of values['batch-intervals']!.split(',').map(Number)) {
    if (modes.has('procs')) await procsLatency(bi);
    if (modes.has('single')) await grapevineLatency(bi);
  }
  await brokerLatency('redis');
  await brokerLatency('nats');
}
if (want('throughput')) {
  if (modes.has('procs')) await procsThroughput();
  if (modes.has('single')) await grapevineThroughput();
  await brokerThroughput('redis');
  await brokerThroughput('nats');
}
if (want('enqueue')) await grapevineEnqueue();
process.exit(0);
