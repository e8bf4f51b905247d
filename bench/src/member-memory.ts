/**
 * Bytes per member record: builds --tables membership tables (one per simulated node) of --members
 * members each, fed the way a node is fed, by alive messages whose strings are fresh copies (as a
 * decoder makes them), and reports the memory growth per record after a full GC: the JS heap, the
 * typed arrays' backing stores (outside the heap: the compact table's columns live there), and
 * their sum, which is what a record costs. With
 * --shared-pool, the tables share one string pool (the `stringPool` option the simulator passes
 * to every node of a process), so each name, address and metadata object is stored once. Each
 * table also keeps a view digest as a node does (its per-member values are a column of the table).
 *
 *   node --expose-gc bench/dist/member-memory.js [--tables 200] [--members 2000] [--meta 0|1] [--shared-pool]
 *
 * Prints one JSON line: records built, heap, array-buffer and total bytes per record, RSS growth per
 * record (RSS also counts freed memory the allocator kept, so it is the noisier figure).
 */
import { Membership, StringPool, ViewDigest, profiles, type Alive } from '@grapevine/core';
import { emit, r1 } from './util.js';

const argv = process.argv.slice(2);
function arg(name: string, fallback: number): number {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}
const TABLES = arg('--tables', 200);
const MEMBERS = arg('--members', 2000);
const META = arg('--meta', 0) > 0;
const SHARED = argv.includes('--shared-pool');

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** A fresh copy of a string, as decoding a packet makes (not the literal's shared instance). */
const fresh = (s: string): string => (' ' + s).slice(1);

function alive(i: number): Alive {
  return {
    k: 5, name: fresh(`node-${i}`), addr: fresh(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:7946`), inc: 0,
    inst: 1_700_000_000_000 * 4096 + i, metaVer: 1_700_000_000_000 * 65536 + i,
    meta: META ? { [fresh('zone')]: fresh(`z${i % 3}`), [fresh('role')]: fresh('web') } : {}, proto: 1, app: fresh(''),
  };
}

const clock = { now: () => 1_700_000_000_000, setTimer: () => ({ cancel() {} }) };
const pool = SHARED ? new StringPool() : undefined;

gc();
const m0 = process.memoryUsage();
const tables: Membership[] = [];
const digests: ViewDigest[] = [];
for (let t = 0; t < TABLES; t++) {
  let digest: ViewDigest | undefined;
  // As a node does (swim-node.ts): every change the table disseminates updates the digest.
  const hooks = {
    disseminate: (name: string) => digest?.update(name, m.get(name)), emit() {}, selfAccused() {}, added() {}, log() {}, count() {}, compatible: () => true,
  };
  const m: Membership = new Membership(
    { name: `self-${t}`, address: `self-${t}:1`, incarnation: 0, instance: 1, meta: {}, metaVersion: 1, protocol: 1, appVersion: '' },
    profiles.lan, clock, hooks, pool,
  );
  digest = new ViewDigest(1024, m.digestStore);
  digest.update(m.self.name, m.self);
  for (let i = 0; i < MEMBERS; i++) m.onAlive(alive(i));
  tables.push(m);
  digests.push(digest);
}
gc();
const m1 = process.memoryUsage();
const records = TABLES * MEMBERS;
const heap = m1.heapUsed - m0.heapUsed;
const buffers = m1.arrayBuffers - m0.arrayBuffers;
emit({
  scenario: 'member-memory', tables: TABLES, members: MEMBERS, meta: META, shared_pool: SHARED, records,
  bytes_per_record: r1((heap + buffers) / records), heap_bytes_per_record: r1(heap / records),
  array_buffer_bytes_per_record: r1(buffers / records), rss_bytes_per_record: r1((m1.rss - m0.rss) / records),
  check: tables.reduce((s, m) => s + m.records.size, 0), digest_members: digests.reduce((s, d) => s + d.size, 0),
});
