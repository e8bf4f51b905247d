/**
 * Where a simulated run's memory per member entry goes. Runs bench:sim's join (and, with
 * --idle-seconds, its idle phase) on N nodes, then empties one structure at a time on every node,
 * collecting garbage and reading heap plus array buffers after each: the drop is what that
 * structure held, printed in bytes per member entry (over N² entries). What is left at the end is
 * the per-node fixed cost (transports, timers, closures, code) plus whatever no step names.
 *
 * It reaches into private fields by name (the point is to weigh them), so a renamed field makes a
 * step weigh 0 rather than fail; the world is unusable afterwards. Run with node --expose-gc:
 *
 *   node --expose-gc --max-old-space-size=15000 bench/dist/sim-memory-split.js --nodes 1000 [--idle-seconds 10]
 */
import { parseArgs } from 'node:util';
import { SimWorld } from './sim/world.js';
import { idlePhase, joinPhase } from './sim/phases.js';
import type { SimArgs } from './sim/args.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '300' }, 'idle-seconds': { type: 'string', default: '0' }, seed: { type: 'string', default: '7' } } });
const n = Number(values.nodes);
const idle = Number(values['idle-seconds']);
const seed = Number(values.seed);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc || !(n >= 2) || !(idle >= 0)) {
  process.stderr.write('usage: node --expose-gc bench/dist/sim-memory-split.js --nodes N [--idle-seconds S] [--seed N]\n');
  process.exit(2);
}
const args = { nodes: n, seed, codec: 'msgpack', seeds: 3, timeout: 300, idleSeconds: idle, profile: 'lan', delay: 1 } as unknown as SimArgs;
const world = new SimWorld({ nodes: n, seed, codec: 'msgpack', profile: 'lan', delay: 1 });
await world.create();
const cpu0 = process.cpuUsage();
const join = await joinPhase(world, args);
const cpu = process.cpuUsage(cpu0);
const idled = idle > 0 ? await idlePhase(world, args) : {};

const memory = (): number => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const total = memory();
let prev = total;
const split: Record<string, number> = {};
const perEntry = (bytes: number): number => Math.round((bytes / (n * n)) * 10) / 10;
function step(label: string, empty: (c: Any) => void): void {
  for (const c of world.clusters) empty(c as Any);
  const now = memory();
  split[label] = perEntry(prev - now);
  prev = now;
}

step('cluster_live_address_set', (c) => { c.memberAddresses = undefined; });
// The prober's order: a name array before, a RowList of table rows (member-table.ts) now.
step('prober_order', (c) => { const o = c.node.prober.order; if (Array.isArray(o)) c.node.prober.order = []; else o.items = new Int32Array(1); });
step('messenger_live_order', (c) => { c.node.messenger.live.sorted.length = 0; });
step('broadcast_queue', (c) => { const q = c.node.queue; q.byKey.clear(); q.dones?.clear(); if (q.reset) q.reset(); else for (const b of q.buckets) b.length = 0; });
// The digest's contributions: a Map by name before, the table's contrib/counted columns now.
step('view_digest', (c) => {
  const e = c.node.viewDigest.entries;
  if (e instanceof Map) e.clear();
  else { const t = c.node.members.t; t.contrib = new Int32Array(1); t.counted = new Uint8Array(1); }
});
step('version_verdicts', (c) => { c.node.versions.verdicts.clear(); });
step('introductions', (c) => { const i = c.node.introductions; i.candidates.clear(); i.perSource.clear(); i.rejected.clear(); });
step('push_pull_pending', (c) => { c.node.pushPull.pending.clear(); });
step('suspicions', (c) => { c.node.members.suspicions.clear(); });
// The member table, in four parts: what a row holds as references, as numbers, its two indexes, its state sets.
const replaceCols = (t: Any, cols: string[]): void => { for (const col of cols) if (t[col]) t[col] = new (t[col].constructor)(1); };
// References: one identity per row now (string-pool.ts), name, address and profile arrays before.
step('member_table_references', (c) => { const t = c.node.members.t; t.ids = []; t.names = []; t.addrs = []; t.profiles = []; });
step('member_table_columns', (c) => replaceCols(c.node.members.t, ['state', 'inc', 'inst', 'metaVer', 'changed', 'slot', 'profile']));
step('member_table_indexes', (c) => replaceCols(c.node.members.t, ['byName', 'byAddr']));
step('member_table_sets', (c) => { for (const s of c.node.members.t.sets) s.items = new Int32Array(1); });
step('string_pool', () => { const p = world.pool as Any; p.strings.clear(); p.metas.clear(); p.profiles.clear(); p.identities?.clear(); });

process.stdout.write(JSON.stringify({
  bench: 'sim-memory-split', n, seed, idle_seconds: idle, join_converged_ms: join.converged_ms, join_cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
  ...idled, total_bytes_per_member_entry: perEntry(total), split_bytes_per_member_entry: split,
  rest_bytes_per_member_entry: perEntry(prev), rest_kb_per_node: Math.round(prev / n / 1024),
}) + '\n');
process.exit(0);
