/**
 * One Grapevine mesh node in its own process, driven by bench/src/mesh-procs.ts over the IPC
 * channel, so the mesh bench can give each of its N nodes a process (and an event loop) of its
 * own, as the brokers it is compared with have. Not run by hand.
 *
 * Times it reports are wall-clock milliseconds with sub-ms resolution (performance.timeOrigin +
 * performance.now()), so the publisher's and the subscribers' stamps share one clock on one machine.
 *
 * Commands (parent → child): start {name, seeds, batchInterval, batchSize}, alive?, subscribe
 * {prefix}, latency {rate, seconds}, throughput {keys}, progress, report, close.
 */
import { performance } from 'node:perf_hooks';
import { createCluster, type NodeCluster } from '@grapevine/node';
import { createMesh, type MeshBus } from '@grapevine/mesh';
import { paced, sleep } from './util.js';

type Cmd =
  | { cmd: 'start'; name: string; seeds: string[]; batchInterval: number; batchSize: number }
  | { cmd: 'alive' }
  | { cmd: 'subscribe'; prefix: string; expect: number }
  | { cmd: 'latency'; rate: number; seconds: number }
  | { cmd: 'throughput'; keys: number }
  | { cmd: 'report' }
  | { cmd: 'progress' }
  | { cmd: 'close' };

const wall = (): number => performance.timeOrigin + performance.now();
const send = (m: unknown): void => void process.send!(m);

let cluster: NodeCluster | undefined;
let bus: MeshBus | undefined;
/** Subscriber side: delivery time by key index, and when the expected count was reached. */
let got: Float64Array = new Float64Array(0);
let count = 0;
let expected = 0;
let doneAt = 0;
/** Publisher side: publish time by key index. */
let sentAt: Float64Array = new Float64Array(0);
let startedAt = 0;
/** process.cpuUsage() when the current subscribe/throughput began, for CPU µs per key. */
let cpu0: NodeJS.CpuUsage = process.cpuUsage();
const cpuUs = (): number => {
  const d = process.cpuUsage(cpu0);
  return d.user + d.system;
};


/** The cluster's counters (broadcast, drop, mesh …), when its metrics sink keeps them in memory. */
function counters(): Record<string, number> {
  bus?.syncMetrics();
  const m = cluster?.metrics as { counters?: Map<string, number> } | undefined;
  return m?.counters ? Object.fromEntries(m.counters) : {};
}

async function handle(m: Cmd): Promise<void> {
  switch (m.cmd) {
    case 'start': {
      cluster = await createCluster({ name: m.name, bind: '127.0.0.1:0', seeds: m.seeds, profile: 'lan' });
      bus = createMesh(cluster, { batchInterval: m.batchInterval, batchSize: m.batchSize });
      return send({ ev: 'started', address: cluster.localNode.address });
    }
    case 'alive':
      return send({ ev: 'alive', alive: cluster!.counts().alive });
    case 'subscribe': {
      got = new Float64Array(m.expect).fill(Number.NaN);
      expected = m.expect;
      count = 0;
      doneAt = 0;
      cpu0 = process.cpuUsage();
      const cut = m.prefix.length;
      bus!.subscribe({ prefix: m.prefix }, (e) => {
        if (e.type !== 'invalidate') return;
        const i = Number(e.key.slice(cut));
        if (!(i >= 0 && i < got.length) || !Number.isNaN(got[i]!)) return;
        got[i] = wall();
        if (++count === expected) doneAt = got[i]!;
      });
      return send({ ev: 'subscribed' });
    }
    case 'latency': {
      sentAt = new Float64Array(m.rate * m.seconds);
      await paced(m.rate, m.seconds, (i) => {
        sentAt[i] = wall();
        bus!.publish(`k${i}`);
      });
      return send({ ev: 'published' });
    }
    case 'throughput': {
      startedAt = wall();
      cpu0 = process.cpuUsage();
      const t0 = performance.now();
      // In slices, so the event loop keeps turning (the bus and the sockets share it).
      for (let i = 0; i < m.keys;) {
        const stop = Math.min(m.keys, i + 2000);
        for (; i < stop; i++) bus!.publish(`t${i}`);
        await new Promise((r) => setImmediate(r));
      }
      return send({ ev: 'published', startedAt, publishMs: performance.now() - t0 });
    }
    case 'progress':
      return send({ ev: 'progress', count, doneAt, cpuUs: cpuUs(), metrics: bus!.metrics() });
    case 'report':
      return send({ ev: 'report', got: Array.from(got), count, doneAt, sentAt: Array.from(sentAt), metrics: bus!.metrics(), counters: counters() });
    case 'close':
      await bus?.close();
      await cluster?.close();
      process.exit(0);
  }
}

process.on('message', (m: Cmd) => {
  handle(m).catch((err: unknown) => send({ ev: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }));
});
// The parent went away: do not linger.
process.on('disconnect', () => setTimeout(() => process.exit(0), 200).unref());
