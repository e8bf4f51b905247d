/**
 * The mesh bus under 10% packet loss (issue 11): how many (key, subscriber) pairs arrive within
 * 1 s of the publish, and how many in the end, after recovery fetches.
 *   sim   N simulated nodes (transport-memory + VirtualClock, msgpack), every best-effort packet
 *         dropped on arrival with probability --loss (reliable messages, like TCP, are not); a
 *         tenth of the nodes publish --keys invalidations in all, at --rate keys/s together.
 *         Times are virtual: they measure the protocol, not this machine.
 *   real  --real-n nodes on 127.0.0.1 in this process (createCluster on a UdpTcpTransport whose
 *         inbound filter drops each datagram with probability --loss: node-factory.ts); one
 *         origin publishes --keys invalidations at --rate keys/s to the others. TCP is not dropped.
 * Every run ends when every subscriber has every key or --settle-ms passed; `gaps` must be 0
 * (the origin logs are long enough), `within_1s` is the fraction of pairs delivered ≤ 1,000 ms
 * after their publish, `final` the fraction delivered at the end.
 *
 *   node bench/dist/mesh-loss.js [--only sim,real] [--n 100] [--real-n 10] [--keys 10000]
 *                                [--rate 1000] [--loss 0.1] [--seed 1] [--batch-size 20]
 */
import { parseArgs } from 'node:util';
import { Cluster, MemoryMetrics, seededRandom } from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { MemoryNetwork, VirtualClock } from '@grapevine/transport-memory';
import { createMesh, type MeshBus } from '@grapevine/mesh';
import { startNode, type StartedNode } from './node-factory.js';
import { emit, now, pct, progress, sleep } from './util.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'sim,real' },
    n: { type: 'string', default: '100' },
    'real-n': { type: 'string', default: '10' },
    keys: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '1000' },
    loss: { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '1' },
    'batch-size': { type: 'string', default: '20' },
    'settle-ms': { type: 'string', default: '60000' },
  },
});
const only = new Set(values.only!.split(','));
const KEYS = Number(values.keys);
const RATE = Number(values.rate);
const LOSS = Number(values.loss);
const SEED = Number(values.seed);
const BATCH_SIZE = Number(values['batch-size']);
const SETTLE = Number(values['settle-ms']);
const round = (x: number): number => Math.round(x * 100) / 100;

/** Publish and delivery times of every (key, subscriber) pair, on one clock. */
class Ledger {
  readonly sentAt = new Map<string, number>();
  /** Per subscriber: key → delivery time. */
  readonly got = new Map<string, Map<string, number>>();
  gaps = 0;

  watch(name: string, bus: MeshBus, clock: () => number): void {
    const mine = new Map<string, number>();
    this.got.set(name, mine);
    bus.subscribe({ prefix: 'x:' }, (e) => {
      if (e.type === 'gap') this.gaps++;
      if (e.type === 'invalidate' && !mine.has(e.key)) mine.set(e.key, clock());
    });
  }

  /** Pairs owed: every key to every subscriber but its origin (keys are `x:<origin>:<i>`). */
  owed(): number {
    let n = 0;
    for (const key of this.sentAt.keys()) for (const sub of this.got.keys()) if (!key.startsWith(`x:${sub}:`)) n++;
    return n;
  }

  complete(total: number): boolean {
    let have = 0;
    for (const m of this.got.values()) have += m.size;
    return have >= total;
  }

  row(total: number): Record<string, unknown> {
    let within = 0;
    let have = 0;
    const lat: number[] = [];
    for (const m of this.got.values()) {
      for (const [key, t] of m) {
        const t0 = this.sentAt.get(key);
        if (t0 === undefined) continue;
        have++;
        lat.push(t - t0);
        if (t - t0 <= 1000) within++;
      }
    }
    lat.sort((a, b) => a - b);
    return {
      pairs: total, within_1s: within / total, final: have / total, missing_1s: total - within, missing_final: total - have, gaps: this.gaps,
      p50_ms: round(pct(lat, 50)), p99_ms: round(pct(lat, 99)), p9999_ms: round(pct(lat, 99.99)), max_ms: round(lat[lat.length - 1] ?? NaN),
    };
  }
}

function sums(buses: MeshBus[]): { fetched_events: number; duplicates: number; fetches: number } {
  let fetched = 0;
  let duplicates = 0;
  let fetches = 0;
  for (const b of buses) {
    const m = b.metrics();
    fetched += m.fetchedEvents;
    duplicates += m.duplicates;
    fetches += m.fetches;
  }
  return { fetched_events: fetched, duplicates, fetches };
}

async function simRun(): Promise<void> {
  const N = Number(values.n);
  progress(`mesh-loss sim: ${N} nodes, ${LOSS * 100}% loss, ${KEYS} keys`);
  const t0 = now();
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, seed: SEED, defaultDelay: 1, jitter: 1 });
  const clusters: Cluster[] = [];
  for (let i = 0; i < N; i++) {
    const t = net.createTransport(`10.0.${i >> 8}.${i & 255}:7946`);
    clusters.push(await Cluster.create({ name: `s${i}`, transport: t, clock, random: seededRandom(SEED * 7919 + i), metrics: new MemoryMetrics(), codec: msgpackCodec, profile: 'lan' }));
  }
  for (const c of clusters.slice(1)) void c.join(clusters[0]!.localNode.address).catch(() => undefined);
  const formed = await clock.runUntil(() => clusters.every((c) => c.counts().alive === N), { timeout: 60_000, step: 50 });
  if (!formed) throw new Error('simulated cluster did not form');
  const buses = clusters.map((c) => createMesh(c, { batchSize: BATCH_SIZE }));
  const ledger = new Ledger();
  clusters.forEach((c, i) => ledger.watch(c.name, buses[i]!, () => clock.now()));
  await clock.advance(2000);
  net.setInboundLoss('*', LOSS);
  // A tenth of the nodes publish, round-robin, RATE keys a second in all, in 10 ms steps.
  const origins = clusters.map((_, i) => i).filter((i) => i % 10 === 3);
  const perStep = RATE / 100;
  let i = 0;
  while (i < KEYS) {
    for (let k = 0; k < perStep && i < KEYS; k++, i++) {
      const o = origins[i % origins.length]!;
      const key = `x:s${o}:${i}`;
      ledger.sentAt.set(key, clock.now());
      buses[o]!.publish(key);
    }
    await clock.advance(10);
  }
  const total = ledger.owed();
  await clock.runUntil(() => ledger.complete(total), { timeout: SETTLE, step: 100 });
  emit({ scenario: 'mesh-loss', mode: 'sim', n: N, origins: origins.length, loss: LOSS, keys: KEYS, rate: RATE, batchSize: BATCH_SIZE, seed: SEED, ...ledger.row(total), ...sums(buses), packets_lost: net.stats.lost, wall_ms: Math.round(now() - t0) });
  for (const b of buses) await b.close();
  for (const c of clusters) await c.close();
  await net.close();
}

async function realRun(): Promise<void> {
  const N = Number(values['real-n']);
  progress(`mesh-loss real: ${N} nodes on 127.0.0.1, ${LOSS * 100}% inbound UDP loss, ${KEYS} keys`);
  const nodes: StartedNode[] = [];
  for (let i = 0; i < N; i++) {
    const n = await startNode({ name: `r${i}`, host: '127.0.0.1', port: 0, profile: 'lan', overrides: {}, lossSeed: SEED * 31 + i, protocolSeed: SEED * 7919 + i, transport: 'udp+tcp' });
    nodes.push(n);
    if (i > 0) await n.cluster.join(nodes[0]!.cluster.localNode.address);
  }
  const end = Date.now() + 30_000;
  while (!nodes.every((n) => n.cluster.counts().alive === N)) {
    if (Date.now() > end) throw new Error('cluster did not converge');
    await sleep(50);
  }
  const buses = nodes.map((n) => createMesh(n.cluster, { batchSize: BATCH_SIZE }));
  const ledger = new Ledger();
  nodes.forEach((n, i) => ledger.watch(n.cluster.name, buses[i]!, now));
  await sleep(500);
  for (const n of nodes) n.setLoss(LOSS);
  const start = now();
  let i = 0;
  while (i < KEYS) {
    const due = Math.min(KEYS, Math.floor(((now() - start) * RATE) / 1000) + 1);
    for (; i < due; i++) {
      const key = `x:r0:${i}`;
      ledger.sentAt.set(key, now());
      buses[0]!.publish(key);
    }
    await sleep(1);
  }
  const total = ledger.owed();
  const settleEnd = now() + SETTLE;
  while (!ledger.complete(total) && now() < settleEnd) await sleep(20);
  const dropped = nodes.reduce((s, n) => s + n.traffic().udpDropped, 0);
  const received = nodes.reduce((s, n) => s + n.traffic().udpInPkts, 0);
  emit({ scenario: 'mesh-loss', mode: 'real', n: N, origins: 1, loss: LOSS, keys: KEYS, rate: RATE, batchSize: BATCH_SIZE, ...ledger.row(total), ...sums(buses), udp_dropped: dropped, udp_delivered: received, loadavg_1m: round((await import('node:os')).loadavg()[0] ?? 0) });
  for (const b of buses) await b.close();
  await Promise.all(nodes.map((n) => n.cluster.close()));
}

emit({ scenario: 'mesh-loss-env', node: process.version, cpus: (await import('node:os')).cpus().length, loadavg_1m: round((await import('node:os')).loadavg()[0] ?? 0) });
if (only.has('sim')) await simRun();
if (only.has('real')) await realRun();
process.exit(0);
