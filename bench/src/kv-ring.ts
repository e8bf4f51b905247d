/**
 * Placement figures for the KV's choice of scheme: fixed partitions placed by rendezvous hashing
 * (what @grapevine/kv does) beside virtual nodes on a hash circle, for the same keys and node names.
 * Prints JSON lines: balance (keys per node: largest deviation from the mean and the standard
 * deviation, in % of the mean) at N=10, and movement on a join (10 → 11) and a leave (11 → 10) as
 * the fraction of keys whose primary changed and of replica placements that changed, beside the
 * theoretical minimum (1/(N+1) of primaries, RF/(N+1) of placements).
 *
 *   node bench/dist/kv-ring.js [--keys 200000] [--trials 10]
 */
import { parseArgs } from 'node:util';
import { loadHasher, mix32, Ring, type Hasher } from '@grapevine/kv';

const { values } = parseArgs({ options: { keys: { type: 'string' }, trials: { type: 'string' } } });
const KEYS = Number(values.keys ?? 200_000);
const TRIALS = Number(values.trials ?? 10);
const RF = 3;

interface Placement {
  owners(key: string): readonly string[];
}

/** Virtual nodes on a 32-bit circle: each node at `vnodes` points; a key's owners are the next distinct nodes clockwise. */
class VnodeRing implements Placement {
  private readonly points: { h: number; node: string }[] = [];
  constructor(private readonly hasher: Hasher, nodes: string[], vnodes: number) {
    for (const n of nodes) for (let v = 0; v < vnodes; v++) this.points.push({ h: hasher.str(`${n}#${v}`), node: n });
    this.points.sort((a, b) => a.h - b.h);
  }
  owners(key: string): string[] {
    const h = this.hasher.str(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.points[mid]!.h < h) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let i = 0; out.length < RF && i < this.points.length; i++) {
      const n = this.points[(lo + i) % this.points.length]!.node;
      if (!out.includes(n)) out.push(n);
    }
    return out;
  }
}

function stats(counts: number[]): { maxDevPct: number; sdPct: number } {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  const maxDev = Math.max(...counts.map((c) => Math.abs(c - mean)));
  const sd = Math.sqrt(counts.reduce((a, c) => a + (c - mean) ** 2, 0) / counts.length);
  return { maxDevPct: (100 * maxDev) / mean, sdPct: (100 * sd) / mean };
}

function measure(make: (nodes: string[]) => Placement, names: string[], keys: string[]) {
  const ten = names.slice(0, 10);
  const a = make(ten);
  const b = make(names);
  const primary = new Map<string, number>(ten.map((n) => [n, 0]));
  const replica = new Map<string, number>(ten.map((n) => [n, 0]));
  let movedPrimary = 0;
  let movedPlacements = 0;
  for (const k of keys) {
    const oa = a.owners(k);
    const ob = b.owners(k);
    primary.set(oa[0]!, primary.get(oa[0]!)! + 1);
    for (const o of oa) replica.set(o, replica.get(o)! + 1);
    if (oa[0] !== ob[0]) movedPrimary++;
    for (const o of ob) if (!oa.includes(o)) movedPlacements++;
  }
  return { primary: stats([...primary.values()]), replica: stats([...replica.values()]), movedPrimary: movedPrimary / keys.length, movedPlacements: movedPlacements / keys.length };
}

const hasher = await loadHasher();
const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`);
const schemes: [string, (nodes: string[]) => Placement][] = [
  ['partitions-8192-rendezvous', (n) => new Ring(hasher, 8192, RF, n.map((name) => ({ name, zone: '' })))],
  ['partitions-1024-rendezvous', (n) => new Ring(hasher, 1024, RF, n.map((name) => ({ name, zone: '' })))],
  ['vnodes-128', (n) => new VnodeRing(hasher, n, 128)],
  ['vnodes-256', (n) => new VnodeRing(hasher, n, 256)],
];
for (const [scheme, make] of schemes) {
  const runs = Array.from({ length: TRIALS }, (_, t) => measure(make, Array.from({ length: 11 }, (_, i) => `node-${mix32(t, i).toString(36)}`), keys));
  const avg = (f: (r: (typeof runs)[number]) => number): number => Number((runs.reduce((s, r) => s + f(r), 0) / runs.length).toFixed(4));
  const worst = (f: (r: (typeof runs)[number]) => number): number => Number(Math.max(...runs.map(f)).toFixed(2));
  console.log(
    JSON.stringify({
      bench: 'kv-ring',
      scheme,
      nodes: 10,
      keys: KEYS,
      trials: TRIALS,
      primaryMaxDevPctWorst: worst((r) => r.primary.maxDevPct),
      primarySdPct: avg((r) => r.primary.sdPct),
      replicaMaxDevPctWorst: worst((r) => r.replica.maxDevPct),
      replicaSdPct: avg((r) => r.replica.sdPct),
      joinMovedPrimary: avg((r) => r.movedPrimary),
      joinMovedPlacementsPerKey: avg((r) => r.movedPlacements),
      minimumMovedPrimary: Number((1 / 11).toFixed(4)),
      minimumMovedPlacementsPerKey: Number((RF / 11).toFixed(4)),
    }),
  );
}
