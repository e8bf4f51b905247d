/**
 * Where does snappy start to pay? For realistic bodies — the bytes the wire pipeline hands to the
 * compressor — measures how much snappy shrinks them and what that costs in CPU, and reports the
 * smallest body size from which compression saves at least 10%. Core's `compressThreshold` (bodies
 * at or below it go uncompressed) should sit there: below it snappy costs time and saves little.
 *
 * Body families (msgpack, the default codec; seeded, so every run measures the same bytes):
 *   alive         one alive message with 0..16 metadata keys
 *   gossip        a UDP packet: a ping plus 0..12 piggybacked alive/suspect/dead messages
 *   push-pull     the state of 1..50 members with 2..6 metadata keys each (anti-entropy, join)
 *   user-json     an application broadcast whose payload is a JS object (msgpack map)
 *   user-text     an application broadcast whose payload is JSON text
 *   user-random   an application broadcast of random bytes (already compressed or encrypted data)
 * User payloads are 64..4096 bytes, log-uniform. Each family's bodies are grouped by size into
 * buckets; per bucket: median saving, share of bodies saving >= 10%, and compress / decompress
 * time measured on those bodies.
 *
 *   node bench/dist/compress-threshold.js [--seconds 0.1] [--bodies 4000] [--seed 1]
 *
 * Prints one JSON line per (family, bucket), one per bucket of all typical bodies pooled, a
 * summary line per family, then the recommendation.
 */
import {
  FIRST_USER_TYPE,
  defaultLimits,
  toWire,
  userToWire,
  WirePipeline,
  type Alive,
  type Clock,
  type NodeState,
  type Ping,
  type PushPull,
} from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { snappyCompressor } from '@grapevine/compress-snappy';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
/** Time spent measuring each of compress and decompress per (family, bucket). */
const seconds = Number(arg('--seconds') ?? 0.1) || 0.1;
/** Bodies generated per family, spread over its sizes. */
const bodiesPerFamily = Math.max(100, Math.floor(Number(arg('--bodies') ?? 4000) || 4000));
const seed = Math.floor(Number(arg('--seed') ?? 1) || 1);
/** "Pays" means at least this fraction of the body saved on the wire. */
const PAYS = 0.1;

// ---- deterministic inputs ------------------------------------------------------------------------

/** mulberry32: small, seeded, good enough to make bodies look like real ones. */
function rng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;

const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c', 'us-east-1a', 'us-east-1d'];
const ROLES = ['cache', 'api', 'worker', 'gateway', 'db-proxy'];
const META_KEYS = ['zone', 'role', 'version', 'dc', 'rack', 'tier', 'build', 'owner', 'env', 'shard', 'weight', 'http', 'grpc', 'az', 'pool', 'team'];
/** Cluster start: nodes started within a day of each other (instance ids and HLC times carry it). */
const EPOCH_MS = 1_795_000_000_000;

interface FakeNode {
  name: string;
  addr: string;
  inst: number;
  metaVer: number;
  inc: number;
  meta: Record<string, string>;
}

function metaValue(r: Rand, key: string): string {
  switch (key) {
    case 'zone': case 'az': return pick(r, ZONES);
    case 'role': return pick(r, ROLES);
    case 'version': return `1.${int(r, 9)}.${int(r, 20)}`;
    case 'dc': return pick(r, ['eu-west-1', 'us-east-1']);
    case 'build': return int(r, 2 ** 32).toString(16).padStart(8, '0');
    case 'http': case 'grpc': return `10.${int(r, 256)}.${int(r, 256)}.${int(r, 256)}:${key === 'http' ? 8080 : 9090}`;
    case 'weight': case 'shard': return String(int(r, 64));
    default: return pick(r, ['blue', 'green', 'prod', 'platform', 'search', 'payments', 'r12', 'r07']);
  }
}

function fakeNode(r: Rand, metaKeys: number): FakeNode {
  const role = pick(r, ROLES);
  const zone = pick(r, ZONES);
  const started = EPOCH_MS + int(r, 86_400_000);
  const meta: Record<string, string> = {};
  for (const key of META_KEYS.slice(0, metaKeys)) meta[key] = key === 'role' ? role : key === 'zone' ? zone : metaValue(r, key);
  return {
    name: `${role}-${zone}-${String(int(r, 100)).padStart(2, '0')}`,
    addr: `10.${int(r, 256)}.${int(r, 256)}.${1 + int(r, 254)}:7946`,
    // As the protocol makes them: start time × 4096 + random, and an HLC time × 1024 + counter.
    inst: started * 4096 + int(r, 4096),
    metaVer: (started + int(r, 3_600_000)) * 1024 + int(r, 4),
    inc: int(r, 6),
    meta,
  };
}

const alive = (n: FakeNode): Alive => ({ k: 5, name: n.name, addr: n.addr, inc: n.inc, inst: n.inst, metaVer: n.metaVer, meta: n.meta });
const state = (n: FakeNode, r: Rand): NodeState => ({
  name: n.name, addr: n.addr, inc: n.inc, inst: n.inst, metaVer: n.metaVer, meta: n.meta,
  state: r() < 0.9 ? 'alive' : pick(r, ['suspect', 'dead', 'left'] as const),
});
const enc = (v: unknown): Uint8Array => msgpackCodec.encode(v);

/** What the pipeline compresses: the body after the 3-byte header of a plain envelope. */
const plain = new WirePipeline({
  codecId: msgpackCodec.id,
  clock: { now: () => Date.now(), setTimer: () => ({ cancel() {} }) } satisfies Clock,
  limits: defaultLimits,
  compressThreshold: Number.MAX_SAFE_INTEGER,
  compressor: undefined,
});
const body = (parts: Uint8Array[]): Uint8Array => plain.seal(parts).subarray(3);

/** One application broadcast as a gossiped user message carries it. */
function userBody(r: Rand, payload: unknown): Uint8Array {
  const origin = fakeNode(r, 0).name;
  return body([enc(userToWire({ s: 1, type: FIRST_USER_TYPE + int(r, 8), origin, id: int(r, 2 ** 32), hops: 3, payload }))]);
}

/** A payload length for a user body of 64..4096 bytes, log-uniform: as many small as large. */
const userLength = (r: Rand): number => Math.round(2 ** (6 + 6 * r())) - 30;

const WORDS = ['user', 'session', 'profile', 'cart', 'price', 'stock', 'invalidate', 'tenant', 'acme', 'globex', 'eu', 'us', 'true', 'false', 'null'];

/** JSON-ish records an application would broadcast (cache invalidations, config, events). */
function jsonRecord(r: Rand): Record<string, unknown> {
  return {
    op: pick(r, ['invalidate', 'update', 'delete']),
    key: `${pick(r, WORDS)}:${int(r, 1_000_000)}:${pick(r, WORDS)}`,
    tenant: pick(r, ['acme', 'globex', 'initech', 'umbrella']),
    ts: EPOCH_MS + int(r, 86_400_000),
    by: fakeNode(r, 0).name,
    ...(r() < 0.5 ? { version: int(r, 10_000) } : {}),
    ...(r() < 0.3 ? { tags: [pick(r, WORDS), pick(r, WORDS)] } : {}),
  };
}

function userJson(r: Rand, n: number): unknown {
  // An object with a list of records, cut to about n bytes of msgpack.
  const records: unknown[] = [];
  let bytes = 16;
  while (bytes < n) {
    const rec = jsonRecord(r);
    records.push(rec);
    bytes += enc(rec).length;
  }
  return { kind: 'batch', from: fakeNode(r, 0).name, records };
}

function userText(r: Rand, n: number): string {
  let s = '';
  while (s.length < n) s += JSON.stringify(jsonRecord(r)) + '\n';
  return s.slice(0, n);
}

function randomBytes(r: Rand, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = int(r, 256);
  return b;
}

interface Family {
  name: string;
  /** Typical of what a cluster sends (random payloads are the counter-example). */
  typical: boolean;
  make(r: Rand): Uint8Array;
}

function piggyback(r: Rand): Uint8Array {
  const n = fakeNode(r, 2 + int(r, 3));
  const x = r();
  if (x < 0.7) return enc(toWire(alive(n)));
  const from = fakeNode(r, 0).name;
  return enc(toWire({ k: x < 0.85 ? 6 : 7, name: n.name, inc: n.inc, from, inst: n.inst }));
}

const families: Family[] = [
  { name: 'alive', typical: true, make: (r) => body([enc(toWire(alive(fakeNode(r, int(r, 17)))))]) },
  {
    name: 'gossip', typical: true,
    make: (r) => {
      const self = fakeNode(r, 0);
      const ping: Ping = { k: 1, seq: int(r, 2 ** 31), target: fakeNode(r, 0).name, from: self.name, fromAddr: self.addr };
      const parts = [enc(toWire(ping))];
      for (let i = int(r, 13); i > 0; i--) parts.push(piggyback(r));
      return body(parts);
    },
  },
  {
    name: 'push-pull', typical: true,
    make: (r) => {
      const self = fakeNode(r, 0);
      const keys = 2 + int(r, 5);
      const states = Array.from({ length: 1 + int(r, 50) }, () => state(fakeNode(r, keys), r));
      const pp: PushPull = { k: 8, seq: int(r, 2 ** 31), join: r() < 0.2, reply: r() < 0.5, from: self.name, fromAddr: self.addr, states };
      return body([enc(toWire(pp))]);
    },
  },
  { name: 'user-json', typical: true, make: (r) => userBody(r, userJson(r, userLength(r))) },
  { name: 'user-text', typical: true, make: (r) => userBody(r, userText(r, userLength(r))) },
  { name: 'user-random', typical: false, make: (r) => userBody(r, randomBytes(r, userLength(r))) },
];

/** Bucket lower edges (bytes); a bucket runs to the next edge. */
const EDGES = [0, 64, 96, 128, 144, 160, 176, 192, 208, 224, 240, 256, 272, 288, 320, 384, 448, 512, 640, 768, 1024, 1536, 2048, 3072, 4096, 8192];
/** Buckets with fewer bodies than this are not reported (too few to say anything). */
const MIN_BUCKET = 12;
/** Bodies timed per bucket (the timing loop cycles through them). */
const TIMED = 64;

// ---- measuring ---------------------------------------------------------------------------------

/**
 * Nanoseconds per call of fn over the pool, after a warm-up: the fastest of five rounds, so a
 * moment of contention from other processes on the machine does not count as snappy's cost.
 */
function nsPerOp<T>(pool: readonly T[], fn: (b: T) => unknown): number {
  let sink = 0;
  for (let i = 0; i < 2000; i++) sink ^= fn(pool[i % pool.length]!) === undefined ? 1 : 0;
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    let n = 0;
    const start = performance.now();
    const end = start + (seconds * 1000) / 5;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 64; i++) sink ^= fn(pool[(n + i) % pool.length]!) === undefined ? 1 : 0;
      n += 64;
      now = performance.now();
    }
    best = Math.min(best, ((now - start) * 1e6) / n);
  }
  if (sink === 42) console.error(''); // keeps the calls from being optimised away
  return best;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

interface Sample {
  body: Uint8Array;
  packed: Uint8Array;
  /** Fraction of the body saved; a compressed body carries one more byte (the compressor id). */
  saved: number;
}

interface Bucket {
  from: number;
  count: number;
  medianSaved: number;
}

function sample(body: Uint8Array): Sample {
  const packed = snappyCompressor.compress(body);
  return { body, packed, saved: (body.length - (packed.length + 1)) / body.length };
}

function report(family: string, all: Sample[], timed: boolean): Bucket[] {
  const buckets: Bucket[] = [];
  for (let e = 0; e < EDGES.length - 1; e++) {
    const lo = EDGES[e]!;
    const hi = EDGES[e + 1]!;
    const inside = all.filter((s) => s.body.length >= lo && s.body.length < hi);
    if (inside.length < MIN_BUCKET) continue;
    const medianSaved = median(inside.map((s) => s.saved));
    buckets.push({ from: lo, count: inside.length, medianSaved });
    const bytes = median(inside.map((s) => s.body.length));
    const line: Record<string, unknown> = {
      impl: 'grapevine', scenario: 'compress-threshold', family, bucket: `${lo}-${hi - 1}`, bodies: inside.length,
      body_bytes: bytes, saved_pct: round(medianSaved * 100), pays_share: round(inside.filter((s) => s.saved >= PAYS).length / inside.length, 2),
    };
    if (timed) {
      const pool = inside.slice(0, TIMED);
      const compressNs = nsPerOp(pool, (s) => snappyCompressor.compress(s.body));
      const decompressNs = nsPerOp(pool, (s) => snappyCompressor.decompress(s.packed, s.body.length));
      const savedBytes = median(pool.map((s) => Math.max(0, s.body.length - (s.packed.length + 1))));
      Object.assign(line, {
        compress_ns: Math.round(compressNs), decompress_ns: Math.round(decompressNs),
        compress_ns_per_byte: round(compressNs / bytes, 2),
        ns_per_saved_byte: savedBytes > 0 ? round((compressNs + decompressNs) / savedBytes, 1) : null,
      });
    }
    console.log(JSON.stringify(line));
  }
  return buckets;
}

/**
 * The size from which the family pays: the upper edge of the largest bucket whose median saving
 * is under PAYS (every body above it saves PAYS or more, as far as measured); 0 when every bucket
 * pays, null when the largest does not (the family never pays within its sizes).
 */
function paysFrom(buckets: Bucket[]): number | null {
  const failing = buckets.filter((b) => b.medianSaved < PAYS);
  if (failing.length === 0) return 0;
  const last = failing[failing.length - 1]!;
  if (last === buckets[buckets.length - 1]) return null;
  return EDGES[EDGES.indexOf(last.from) + 1]!;
}

const typicalSamples: Sample[] = [];
const summaries: Array<{ family: string; typical: boolean; pays_from: number | null; largest_body: number }> = [];
let familyIndex = 0;
for (const family of families) {
  familyIndex++;
  const r = rng(seed * 1_000_003 + familyIndex);
  const all = Array.from({ length: bodiesPerFamily }, () => sample(family.make(r)));
  if (family.typical) typicalSamples.push(...all);
  const buckets = report(family.name, all, true);
  summaries.push({ family: family.name, typical: family.typical, pays_from: paysFrom(buckets), largest_body: Math.max(...all.map((s) => s.body.length)) });
}
const pooled = report('typical', typicalSamples, false);
for (const s of summaries) console.log(JSON.stringify({ impl: 'grapevine', scenario: 'compress-threshold-summary', ...s }));
// Every typical family that pays at all pays above the largest of their sizes; a family that never
// pays (a lone alive message) is named, not waited for: no threshold would make it pay.
const paying = summaries.filter((s) => s.typical && s.pays_from !== null);
const from = Math.max(...paying.map((s) => s.pays_from!));
console.log(JSON.stringify({
  impl: 'grapevine', scenario: 'compress-threshold-recommendation', pays_pct: PAYS * 100,
  typical_pays_from: from, pooled_pays_from: paysFrom(pooled),
  never_pays: summaries.filter((s) => s.pays_from === null).map((s) => s.family),
  // The pipeline compresses bodies longer than the threshold.
  compress_threshold: from - 1,
  bodies_per_family: bodiesPerFamily, seconds, seed, node: process.version,
}));
