/**
 * The broadcast scenario, with the anchor's rules (../shared/anchors/memberlist main.go
 * scnBroadcast): a random live origin other than node-000 queues M messages of `size` bytes at
 * once; every other live node must deliver each once. Wait until all deliveries arrived, or no new
 * one came for 10 s, or 60 s passed. The anchor re-gossips each message on first receipt through
 * memberlist's queue; Grapevine's broadcast() does the equivalent by itself (eager tree push plus
 * piggyback), so the handler only records.
 */
import type { Cluster } from '@grapevine/core';
import { base, type BenchCluster } from './harness.js';
import type { ScenarioContext } from './scenarios.js';
import { subTraffic } from './node-factory.js';
import { ascending, CpuMark, emit, intn, ms, now, pct, progress, r3, sleep } from './util.js';

/** The message type the harness broadcasts. */
export const BENCH_TYPE = 200;
const MAGIC = [0x47, 0x56, 0x42, 0x43]; // "GVBC"

interface Receiver {
  round: number;
  got: number[];
  dups: number;
}

const receivers = new WeakMap<Cluster, Receiver>();
let delivered = 0;

function receiverOf(cluster: Cluster): Receiver {
  let r = receivers.get(cluster);
  if (!r) {
    const rec: Receiver = { round: -1, got: [], dups: 0 };
    receivers.set(cluster, rec);
    cluster.handle<Uint8Array>(BENCH_TYPE, (payload) => {
      if (!(payload instanceof Uint8Array) || payload.length < 12) return;
      const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const i = dv.getUint32(4);
      const round = dv.getUint32(8);
      if (round !== rec.round || i >= rec.got.length) return;
      if (rec.got[i]! > 0) {
        rec.dups++;
        return;
      }
      rec.got[i] = now();
      delivered++;
    });
    r = rec;
  }
  return r;
}

export async function scnBroadcast(c: BenchCluster, ctx: ScenarioContext, trial: number, round: number, m: number, size: number): Promise<void> {
  const live = c.live();
  const viewsOK = c.fullView();
  const roundTag = 1 + trial * 1000 + round;
  for (const nd of live) {
    const r = receiverOf(nd.node.cluster);
    r.round = roundTag;
    r.got = new Array<number>(m).fill(0);
    r.dups = 0;
  }
  delivered = 0;
  const origin = live[1 + intn(ctx.rng, live.length - 1)]!;
  const before = c.traffic(live);
  // Copies the dedup record dropped: the counterpart of the anchor's duplicate receipts, which
  // memberlist hands to the application and the anchor's delegate discards.
  const dupsBefore = c.counter('grapevine.broadcast.duplicate', live) + c.counter('grapevine.broadcast.stale', live);
  const cm = new CpuMark();
  const msgs = Array.from({ length: m }, (_, i) => {
    const b = new Uint8Array(size);
    b.set(MAGIC);
    const dv = new DataView(b.buffer);
    dv.setUint32(4, i);
    dv.setUint32(8, roundTag);
    return b;
  });
  const sent = new Array<number>(m).fill(0);
  const t0 = now();
  for (let i = 0; i < m; i++) {
    sent[i] = now();
    origin.node.cluster.broadcast(BENCH_TYPE, msgs[i]);
  }
  const want = m * (live.length - 1);
  const stallTimeout = 10_000;
  let lastCount = 0;
  let lastProgress = t0;
  let atProgress = before;
  let ok = false;
  for (;;) {
    const t = now();
    if (delivered !== lastCount) {
      lastCount = delivered;
      lastProgress = t;
      atProgress = c.traffic(live);
    }
    if (delivered >= want) {
      ok = true;
      break;
    }
    if (t - lastProgress > stallTimeout || t - t0 > 60_000) break;
    await sleep(2);
  }
  const done = now();
  const cpu = cm.pct();
  const delta = subTraffic(atProgress, before);

  const pair: number[] = [];
  const full = new Array<number>(m).fill(0);
  let dups = 0;
  let missing = 0;
  let incomplete = 0;
  for (const nd of live) {
    if (nd === origin) continue;
    const r = receiverOf(nd.node.cluster);
    let miss = 0;
    for (let i = 0; i < m; i++) {
      const at = r.got[i]!;
      if (at === 0) {
        full[i] = Infinity;
        miss++;
        continue;
      }
      const l = at - sent[i]!;
      pair.push(l);
      if (l > full[i]!) full[i] = l;
    }
    dups += r.dups;
    if (miss > 0) {
      incomplete++;
      missing += miss;
      progress(`broadcast: ${nd.name} missing ${miss} messages`);
    }
  }
  pair.sort(ascending);
  full.sort(ascending);
  const total = Math.max(...full);
  const o = base(ctx.run, 'broadcast', trial);
  Object.assign(o, {
    live_nodes: live.length, round, ok, views_complete_at_start: viewsOK,
    messages: m, msg_bytes: size, origin: origin.name, receivers: live.length - 1,
    delivered, expected: want, delivery_ratio: r3(delivered / want),
    missing_pairs: missing, incomplete_receivers: incomplete,
    pair_latency_ms_p50: ms(pct(pair, 50)), pair_latency_ms_p99: ms(pct(pair, 99)), pair_latency_ms_max: ms(pct(pair, 100)),
  });
  if (ok) {
    Object.assign(o, {
      msg_full_delivery_ms_p50: ms(pct(full, 50)), msg_full_delivery_ms_p99: ms(pct(full, 99)), msg_full_delivery_ms_max: ms(pct(full, 100)),
      total_ms: ms(total),
    });
  } else {
    o.total_ms = null;
  }
  Object.assign(o, {
    wait_ms: ms(done - t0), stalled: !ok,
    duplicate_receipts: dups + c.counter('grapevine.broadcast.duplicate', live) + c.counter('grapevine.broadcast.stale', live) - dupsBefore,
    cluster_udp_pkts_sent: delta.udpOutPkts, cluster_udp_bytes_sent: delta.udpOutBytes,
    cluster_tcp_bytes_sent: delta.tcpOutBytes,
    cpu_pct: cpu,
  });
  emit(o);
}
