/**
 * CPU per key of the mesh's whole path — publish, batch, broadcast, tree relay, dedup, order,
 * stale check, delivery to a subscriber on every node — without sockets or a scheduler in the
 * way: N nodes in this process on the in-memory network and the virtual clock (msgpack, profile
 * lan), one publisher, `--keys` keys in slices as fast as the virtual clock allows, until every
 * other node holds every key. Reports process CPU µs per key (all N nodes' work; user + system)
 * and per delivered (key, subscriber) pair, best of `--rounds`. On a shared machine CPU time is
 * steadier than wall time; compare builds back to back.
 *
 *   node bench/dist/mesh-cpu.js [--n 10] [--keys 50000] [--batch-size 1000] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { Cluster, MemoryMetrics, seededRandom } from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { createMesh } from '@grapevine/mesh';
import { MemoryNetwork, VirtualClock } from '@grapevine/transport-memory';
import { emit } from './util.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10' },
    keys: { type: 'string', default: '50000' },
    'batch-size': { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
});
const N = Number(values.n);
const KEYS = Number(values.keys);
const BATCH_SIZE = Number(values['batch-size']);
const ROUNDS = Number(values.rounds);

async function round(seed: number): Promise<{ cpuUs: number; complete: boolean }> {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, seed, defaultDelay: 1, jitter: 0 });
  const clusters: Cluster[] = [];
  for (let i = 0; i < N; i++) {
    const t = net.createTransport(`10.0.0.${i + 1}:7946`);
    clusters.push(await Cluster.create({ name: `c${i}`, transport: t, clock, random: seededRandom(seed * 7919 + i), metrics: new MemoryMetrics(), codec: msgpackCodec, profile: 'lan' }));
  }
  for (const c of clusters.slice(1)) void c.join(clusters[0]!.localNode.address).catch(() => undefined);
  if (!(await clock.runUntil(() => clusters.every((c) => c.counts().alive === N), { timeout: 60_000, step: 50 }))) throw new Error('cluster did not form');
  const buses = clusters.map((c) => createMesh(c, { batchSize: BATCH_SIZE }));
  const counts = buses.map(() => 0);
  buses.forEach((b, i) => b.subscribe({ prefix: 't' }, (e) => { if (e.type === 'invalidate') counts[i]!++; }));
  await clock.advance(1000);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < KEYS;) {
    const stop = Math.min(KEYS, i + 2000);
    for (; i < stop; i++) buses[0]!.publish(`t${i}`);
    await clock.advance(1);
  }
  const complete = await clock.runUntil(() => counts.slice(1).every((c) => c === KEYS), { timeout: 60_000, step: 1 });
  const cpu = process.cpuUsage(cpu0);
  for (const b of buses) await b.close();
  for (const c of clusters) await c.close();
  await net.close();
  return { cpuUs: cpu.user + cpu.system, complete };
}

let best = Infinity;
let allComplete = true;
for (let r = 0; r < ROUNDS; r++) {
  const { cpuUs, complete } = await round(r + 1);
  allComplete &&= complete;
  best = Math.min(best, cpuUs);
}
emit({ scenario: 'mesh-cpu', n: N, keys: KEYS, batchSize: BATCH_SIZE, rounds: ROUNDS, complete: allComplete, cpu_us_per_key: Math.round((best / KEYS) * 100) / 100, cpu_us_per_delivery: Math.round((best / KEYS / (N - 1)) * 100) / 100 });
