/**
 * The KV's library API in one process: N nodes (createCluster, UDP+TCP on 127.0.0.1) each with a
 * KV (RF 3, W 2, R 1); from node 0, set then get `--ops` keys of `--value-bytes`-byte values with
 * `--concurrency` calls in flight, split into keys node 0 owns (answered locally for reads, one
 * remote ack needed for writes) and keys it does not own (every call crosses the network). Then
 * memory per stored entry: a single-node KV (RF 1) filled with `--memory-keys` entries, heap growth
 * divided by the count. Then rebalancing: `--rebalance-keys` keys on N nodes, add one node, time
 * until every node is idle and every key sits on exactly its owners, and bytes streamed beside the
 * theoretical minimum (each record the new node owns, sent once). Prints JSON lines.
 *
 * With --near-cache MS the api rows run with the near cache on and read the remote keys a second time.
 *
 *   node --expose-gc bench/dist/kv-api.js [--nodes 5] [--ops 20000] [--concurrency 64] [--value-bytes 100]
 *        [--memory-keys 200000] [--rebalance-keys 200000] [--near-cache MS] [--only api,memory,rebalance]
 */
import { parseArgs } from 'node:util';
import { createKv, encodeRecord, type Kv } from '@grapevine/kv';
import { createCluster, type Cluster } from '@grapevine/node';
import { emit, now, progress, sleep } from './util.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string' },
    ops: { type: 'string' },
    concurrency: { type: 'string' },
    'value-bytes': { type: 'string' },
    'memory-keys': { type: 'string' },
    'rebalance-keys': { type: 'string' },
    only: { type: 'string' },
    'near-cache': { type: 'string' },
  },
});
const NODES = Number(values.nodes ?? 5);
const OPS = Number(values.ops ?? 20_000);
const CONC = Number(values.concurrency ?? 64);
const VBYTES = Number(values['value-bytes'] ?? 100);
const MEM_KEYS = Number(values['memory-keys'] ?? 200_000);
const REB_KEYS = Number(values['rebalance-keys'] ?? 200_000);
const only = values.only?.split(',');
/** --near-cache MS: the api rows run with the near cache on (ttl MS) and add a second read of the remote keys. */
const NEAR = values['near-cache'] !== undefined ? Number(values['near-cache']) : undefined;
const FAST = { profile: 'fast' } as const;

interface Node {
  cluster: Cluster;
  kv: Kv;
}

async function startNodes(n: number, seed?: string, kvOpts = {}, profile: 'fast' | 'lan' = FAST.profile): Promise<Node[]> {
  const out: Node[] = [];
  for (let i = 0; i < n; i++) {
    const cluster = await createCluster({ name: `kv-${Math.random().toString(36).slice(2, 8)}`, bind: '127.0.0.1:0', profile, ...(seed ?? out[0] ? { join: seed ?? out[0]!.cluster.localNode.address } : {}) });
    out.push({ cluster, kv: await createKv(cluster, kvOpts) });
  }
  return out;
}

async function until(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return Number(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!.toFixed(3));
}

async function runOps(keys: string[], op: (k: string) => Promise<unknown>): Promise<{ opsPerSec: number; p50: number; p99: number; errors: number }> {
  const lat: number[] = [];
  let next = 0;
  let errors = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (next < keys.length) {
        const k = keys[next++]!;
        const s = now();
        try {
          await op(k);
        } catch {
          errors++;
        }
        lat.push(now() - s);
      }
    }),
  );
  const secs = (now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { opsPerSec: Math.round(keys.length / secs), p50: pct(lat, 50), p99: pct(lat, 99), errors };
}

async function apiBench(): Promise<void> {
  const nodes = await startNodes(NODES, undefined, NEAR !== undefined ? { nearCache: { ttl: NEAR, maxEntries: OPS } } : {});
  await until(() => nodes.every((n) => n.kv.stats().members === NODES), 30_000);
  const me = nodes[0]!;
  const value = new Uint8Array(VBYTES).fill(120);
  const local: string[] = [];
  const remote: string[] = [];
  for (let i = 0; local.length < OPS / 2 || remote.length < OPS / 2; i++) {
    const k = `bench:${i}`;
    const mine = me.kv.owners(k).includes(me.cluster.name);
    if (mine && local.length < OPS / 2) local.push(k);
    else if (!mine && remote.length < OPS / 2) remote.push(k);
  }
  for (const [placement, keys] of [['local-owner', local], ['remote', remote]] as const) {
    const set = await runOps(keys, (k) => me.kv.set(k, value));
    emit({ bench: 'kv-api', op: 'set', placement, nodes: NODES, concurrency: CONC, valueBytes: VBYTES, ops: keys.length, ...set, unit: 'ms' });
    const get = await runOps(keys, (k) => me.kv.get(k));
    emit({ bench: 'kv-api', op: 'get', placement, nodes: NODES, concurrency: CONC, valueBytes: VBYTES, ops: keys.length, ...get, unit: 'ms' });
    if (NEAR !== undefined && placement === 'remote') {
      const again = await runOps(keys, (k) => me.kv.get(k));
      emit({ bench: 'kv-api', op: 'get', placement: 'remote, read again (near cache)', nearCacheTtl: NEAR, nodes: NODES, concurrency: CONC, valueBytes: VBYTES, ops: keys.length, ...again, hits: me.kv.stats().nearCache?.hits, unit: 'ms' });
    }
  }
  for (const n of nodes) {
    n.kv.close();
    await n.cluster.close();
  }
}

async function memoryBench(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const [n] = await startNodes(1, undefined, { replicas: 1, writeQuorum: 1, maxBytes: 8 * 1024 * 1024 * 1024 });
  const value = new Uint8Array(VBYTES).fill(120);
  gc?.();
  const before = process.memoryUsage();
  const BATCH = 1000;
  for (let i = 0; i < MEM_KEYS; i += BATCH) {
    const entries: [string, Uint8Array][] = [];
    for (let j = i; j < Math.min(MEM_KEYS, i + BATCH); j++) entries.push([`key:${String(j).padStart(12, '0')}`, value.slice()]);
    await n!.kv.setMany(entries);
  }
  gc?.();
  const after = process.memoryUsage();
  const heap = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  emit({ bench: 'kv-memory', keys: MEM_KEYS, valueBytes: VBYTES, keyBytes: 16, gcExposed: gc !== undefined, bytesPerEntry: Math.round(heap / MEM_KEYS), rssPerEntry: Math.round((after.rss - before.rss) / MEM_KEYS), accountedPerEntry: Math.round(n!.kv.stats().bytes / MEM_KEYS) });
  n!.kv.close();
  await n!.cluster.close();
}

async function rebalanceBench(): Promise<void> {
  // The lan profile: all six nodes share one heap, and a major GC of a heap of millions of records
  // pauses them all for a second or more; with 'fast' (probe timeout 150 ms, suspicion from 0.5 s)
  // the failure detector declared nodes dead mid-run and the ring moved data back and forth, which
  // is the failure detector doing its job on a paused process, not the rebalance being measured.
  const nodes = await startNodes(NODES, undefined, { maxBytes: 8 * 1024 * 1024 * 1024 }, 'lan');
  await until(() => nodes.every((n) => n.kv.stats().members === NODES), 30_000);
  const value = new Uint8Array(VBYTES).fill(120);
  const BATCH = 500;
  const t0 = now();
  // Four batches in flight (each through a different coordinator), so loading is not bound by one
  // round trip at a time.
  let nextBatch = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (;;) {
        const i = nextBatch;
        nextBatch += BATCH;
        if (i >= REB_KEYS) return;
        const entries: [string, Uint8Array][] = [];
        for (let j = i; j < Math.min(REB_KEYS, i + BATCH); j++) entries.push([`key:${String(j).padStart(12, '0')}`, value]);
        // A batch that misses its quorum (a timeout on a busy machine) is written again.
        for (let attempt = 0; ; attempt++) {
          try {
            await nodes[(i / BATCH) % NODES]!.kv.setMany(entries);
            break;
          } catch (err) {
            if (attempt >= 5) throw err;
          }
        }
        if ((i / BATCH) % 200 === 0 && i > 0) progress(`loaded ${i} keys`);
      }
    }),
  );
  const loadSecs = (now() - t0) / 1000;
  progress(`loaded ${REB_KEYS} keys in ${loadSecs.toFixed(1)} s`);
  // Before the join every key must sit on exactly its 3 owners, or the settle condition below
  // would wait for repairs of the load rather than for the rebalance. A write that timed out on one
  // owner is repaired by its hint; anything else by anti-entropy, run here back to back.
  const t2 = now();
  const copies = (): number => nodes.reduce((s, n) => s + n.kv.stats().entries, 0);
  while (copies() !== REB_KEYS * 3 || nodes.some((n) => n.kv.rebalancing || n.kv.stats().members !== NODES)) {
    if (now() - t2 > 300_000) throw new Error(`load not replicated: ${copies()} of ${REB_KEYS * 3} copies`);
    await Promise.all(nodes.map((n) => n.kv.antiEntropyRound()));
    await sleep(200);
  }
  progress(`every key on its 3 owners ${((now() - t2) / 1000).toFixed(1)} s after the load`);
  await sleep(500);
  const sentBefore = nodes.reduce((s, n) => s + n.kv.stats().rangeBytesSent, 0);
  const t1 = now();
  const [joiner] = await startNodes(1, nodes[0]!.cluster.localNode.address, { maxBytes: 8 * 1024 * 1024 * 1024 }, 'lan');
  const all = [...nodes, joiner!];
  await until(() => all.every((n) => n.kv.stats().members === NODES + 1), 30_000);
  // The minimum: every record the joiner now owns, sent once.
  const sample = all[0]!.kv.localRecords()[0]!;
  const frame = encodeRecord(sample).length;
  let minimum = 0;
  let owned = 0;
  for (let j = 0; j < REB_KEYS; j++) {
    const k = `key:${String(j).padStart(12, '0')}`;
    if (joiner!.kv.owners(k).includes(joiner!.cluster.name)) {
      owned++;
      minimum += frame;
    }
  }
  const settled = (): boolean => {
    if (all.some((n) => n.kv.rebalancing || n.kv.stats().members !== NODES + 1)) return false;
    const total = all.reduce((s, n) => s + n.kv.stats().entries, 0);
    return total === REB_KEYS * 3 && joiner!.kv.stats().entries === owned;
  };
  const status = (): string => JSON.stringify(all.map((n) => ({ entries: n.kv.stats().entries, members: n.kv.stats().members, rebalancing: n.kv.rebalancing, sent: n.kv.stats().rangeRecordsSent })));
  const ticker = setInterval(() => progress(`settling ${((now() - t1) / 1000).toFixed(0)} s: want ${REB_KEYS * 3} copies, joiner ${owned}; ${status()}`), 10_000);
  await until(settled, 600_000).finally(() => clearInterval(ticker)).catch(() => {
    const st = all.map((n) => ({ entries: n.kv.stats().entries, rebalancing: n.kv.rebalancing }));
    throw new Error(`rebalance did not settle: want ${REB_KEYS * 3} entries, joiner ${owned}; ${JSON.stringify(st)}`);
  });
  const secs = (now() - t1) / 1000;
  const sent = nodes.reduce((s, n) => s + n.kv.stats().rangeBytesSent, 0) + joiner!.kv.stats().rangeBytesSent - sentBefore;
  emit({ bench: 'kv-rebalance', nodesBefore: NODES, keys: REB_KEYS, valueBytes: VBYTES, loadSeconds: Number(loadSecs.toFixed(1)), rssMiB: Math.round(process.memoryUsage().rss / 1048576), recordsToMove: owned, secondsUntilPlaced: Number(secs.toFixed(2)), bytesSent: sent, bytesMinimum: minimum, ratio: Number((sent / minimum).toFixed(3)) });
  for (const n of all) {
    n.kv.close();
    await n.cluster.close();
  }
}

if (!only || only.includes('api')) await apiBench();
if (!only || only.includes('memory')) await memoryBench();
if (!only || only.includes('rebalance')) await rebalanceBench();
process.exit(0);
