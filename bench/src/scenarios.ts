/**
 * The scenarios, defined exactly as in ../shared/anchors/memberlist/README.md ("Scenario
 * definitions") and main.go: same t0, same wait and stall rules, same field names.
 */
import { pushPullScale, type ProtocolConfig } from '@grapevine/core';
import { base, BenchCluster, type BenchNode, type RunInfo } from './harness.js';
import { subTraffic } from './node-factory.js';
import { scnBroadcast } from './broadcast.js';
import { ascending, CpuMark, emit, intn, ms, now, pct, progress, r1, r3, rssMB, sleep, snmpUdp, stats, waitUntil, type Rng } from './util.js';

/** Everything a scenario needs besides its cluster. */
export interface ScenarioContext {
  run: RunInfo;
  /** The resolved protocol configuration every node runs. */
  config: ProtocolConfig;
  /** The harness's own choices (victims, origins). */
  rng: Rng;
}

/** Counters the protocol keeps in MemoryMetrics (summed over nodes). */
export const M = {
  probeSent: 'grapevine.probe.sent',
  failedDirect: 'grapevine.probe.failed-direct',
  tcpRescue: 'grapevine.probe.tcp-rescue',
  indirectRescue: 'grapevine.probe.indirect-rescue',
  probeFailed: 'grapevine.probe.failed',
  suspicionsRaised: 'grapevine.suspicions-raised',
  suspicionTimeouts: 'grapevine.suspicion-timeouts',
  refutations: 'grapevine.refutations',
} as const;

// ---------------------------------------------------------------------------------------------
// join

/**
 * All N nodes are listening and have joined no one. At t0, nodes 1…N-1 each call join(node-000)
 * at once. Wait until every view holds all N; give up after 60 s, or once no join/leave event has
 * happened for 5 s. Returns whether the cluster converged and the public API agrees.
 */
export async function joinCluster(c: BenchCluster, ctx: ScenarioContext, trial: number, emitResult: boolean, joinOnly: boolean): Promise<boolean> {
  const n = c.nodes.length;
  const cm = new CpuMark();
  const seedAddr = c.nodes[0]!.addr;
  const joinDone = new Array<number>(n).fill(0);
  let joinErrs = 0;
  const t0 = now();
  const calls = c.nodes.slice(1).map((nd) =>
    nd.node.cluster.join(seedAddr).then(
      () => { joinDone[nd.idx] = now() - t0; },
      (err: unknown) => {
        joinDone[nd.idx] = now() - t0;
        joinErrs++;
        progress(`join error ${nd.name}: ${String(err)}`);
      },
    ),
  );
  const joinStall = 5000;
  let ok = false;
  for (;;) {
    if (c.fullView()) {
      ok = true;
      break;
    }
    const t = now();
    if (t - t0 > 60_000 || t - c.tracker.last > joinStall) break;
    await sleep(2);
  }
  const waited = now() - t0;
  await Promise.all(calls);
  if (!ok) c.diagnose('join');
  const missingPairs = c.missingViewPairs();
  if (!ok) {
    c.stuck = c.missingPairList();
    c.joinT0 = t0;
  }
  // The convergence instant is the last join event that completed the views.
  let conv = t0;
  const perNode: number[] = [];
  for (let o = 0; o < n; o++) {
    let last = -Infinity;
    for (const at of c.tracker.joinAt[o]!) if (at > last) last = at; // NaN compares false
    if (last < t0) last = t0; // a node's own entry dates from its creation
    perNode.push(ms(last - t0));
    if (last > conv) conv = last;
  }
  perNode.sort(ascending);
  const maxJoinRpc = Math.max(0, ...joinDone);
  const verified = c.membersAllAlive();
  if (emitResult) {
    const o = base(ctx.run, 'join', trial);
    o.live_nodes = n;
    o.join_only = joinOnly;
    o.ok = ok && verified && joinErrs === 0;
    o.convergence_ms = ok ? ms(conv - t0) : null;
    o.converged = ok;
    o.missing_view_pairs = missingPairs;
    o.wait_ms = ms(waited);
    o.last_join_event_ms = ms(conv - t0);
    o.node_full_view_ms_p50 = pct(perNode, 50);
    o.node_full_view_ms_max = pct(perNode, 100);
    o.join_rpc_ms_max = ms(maxJoinRpc);
    o.join_errors = joinErrs;
    o.members_api_verified = verified;
    // Grapevine-only: push-pulls started because a view digest disagreed (0 with --no-view-digest).
    o.view_digest_syncs = c.counter('grapevine.view-digest.sync');
    o.cpu_pct = cm.pct();
    o.rss_mb = rssMB();
    emit(o);
  }
  return ok && verified;
}

// ---------------------------------------------------------------------------------------------
// broadcast

/** Broadcast of M user messages with epidemic re-gossip (README scenario 4): see broadcast.ts. */
export type BroadcastScenario = (c: BenchCluster, ctx: ScenarioContext, trial: number, round: number, m: number, size: number) => Promise<void>;
export const broadcastScenario: BroadcastScenario | undefined = scnBroadcast;

// ---------------------------------------------------------------------------------------------
// load

/**
 * Idle traffic per node over a window with no application activity, then one measured push-pull
 * exchange (a random node with node-000), amortized over the scaled push-pull interval.
 */
export async function scnLoad(c: BenchCluster, ctx: ScenarioContext, trial: number, secs: number): Promise<void> {
  const live = c.live();
  const n = live.length;
  const viewsOK = c.fullView();
  const before = live.map((nd) => nd.node.traffic());
  const snmp0 = snmpUdp();
  const cm = new CpuMark();
  const t0 = now();
  await sleep(secs * 1000);
  const el = (now() - t0) / 1000;
  const cpu = cm.pct();
  const snmp1 = snmpUdp();
  const udpPkts: number[] = [];
  const udpBytes: number[] = [];
  const tcpBytes: number[] = [];
  const tcpConns: number[] = [];
  const totBytes: number[] = [];
  let totPkts = 0;
  let totUdpBytes = 0;
  live.forEach((nd, i) => {
    const d = subTraffic(nd.node.traffic(), before[i]!);
    totPkts += d.udpOutPkts;
    totUdpBytes += d.udpOutBytes;
    udpPkts.push(d.udpOutPkts / el);
    udpBytes.push(d.udpOutBytes / el);
    tcpBytes.push(d.tcpOutBytes / el);
    tcpConns.push(d.tcpDials / el);
    totBytes.push((d.udpOutBytes + d.tcpOutBytes) / el);
  });
  const o = base(ctx.run, 'load', trial);
  o.live_nodes = n;
  o.ok = true;
  o.views_complete_at_start = viewsOK;
  o.window_s = r3(el);
  let s = stats(udpPkts);
  o.udp_pkts_per_node_s = r3(s.mean);
  o.udp_pkts_per_node_s_min = r3(s.min);
  o.udp_pkts_per_node_s_max = r3(s.max);
  s = stats(udpBytes);
  const udpBytesMean = s.mean;
  o.udp_bytes_per_node_s = r1(s.mean);
  o.udp_bytes_per_node_s_min = r1(s.min);
  o.udp_bytes_per_node_s_max = r1(s.max);
  o.tcp_bytes_per_node_s = r1(stats(tcpBytes).mean);
  o.tcp_conns_per_node_s = r3(stats(tcpConns).mean);
  s = stats(totBytes);
  o.total_bytes_per_node_s = r1(s.mean);
  o.total_bytes_per_node_s_min = r1(s.min);
  o.total_bytes_per_node_s_max = r1(s.max);
  o.avg_udp_payload_bytes = r1(totUdpBytes / Math.max(1, totPkts));

  // One push-pull exchange, measured on the two nodes involved (Grapevine's periodic push-pulls
  // run from the start, so summing over the whole cluster could catch an unrelated one).
  const a = live[1 + intn(ctx.rng, n - 1)]!;
  const pair = [a, live[0]!];
  const pp0 = c.traffic(pair);
  let ppOk = true;
  try {
    await a.node.cluster.node.pushPull.exchange(live[0]!.addr, false);
  } catch (err) {
    ppOk = false;
    progress(`load: push-pull failed: ${String(err)}`);
  }
  await sleep(20); // let the reply's write callback run on the answering side
  const pp = subTraffic(c.traffic(pair), pp0);
  const intervalS = pushPullScale(ctx.config.pushPullInterval, n) / 1000;
  o.pushpull_exchange_tcp_bytes = pp.tcpOutBytes;
  o.pushpull_ok = ppOk;
  o.pushpull_exchange_tcp_msgs = pp.tcpOutMsgs; // 2 when no other reliable message was caught
  o.pushpull_interval_s = intervalS;
  const amort = intervalS > 0 ? pp.tcpOutBytes / intervalS : 0; // each node starts one exchange per interval
  o.pushpull_amortized_tcp_bytes_per_node_s = r1(amort);
  o.total_bytes_per_node_s_incl_pushpull = r1(udpBytesMean + amort);
  o.snmp_udp_out_dgrams_per_node_s = r3((snmp1.outDgrams - snmp0.outDgrams) / el / n);
  o.snmp_udp_in_dgrams_per_node_s = r3((snmp1.inDgrams - snmp0.inDgrams) / el / n);
  o.cpu_pct = cpu;
  o.rss_mb = rssMB();
  emit(o);
}

// ---------------------------------------------------------------------------------------------
// detect and leave

/** Wait until no live node lists the victim; per-observer times (ms since t0) of the leave events, ascending. */
async function waitGone(c: BenchCluster, victim: BenchNode, t0: number, timeout: number): Promise<{ ok: boolean; ts: number[]; left: number }> {
  const obs = c.live().filter((nd) => nd !== victim);
  const t = c.tracker;
  const ok = await waitUntil(timeout, 2, () => obs.every((o) => !t.alive[o.idx]![victim.idx]));
  const ts: number[] = [];
  let left = 0;
  for (const o of obs) {
    const at = t.leaveAt[o.idx]![victim.idx]!;
    if (!t.alive[o.idx]![victim.idx] && at > t0) {
      ts.push(ms(at - t0));
      if (t.leaveType[o.idx]![victim.idx] === 'left') left++;
    }
  }
  ts.sort(ascending);
  return { ok, ts, left };
}

/** Crash: close a random node other than node-000 (no leave) and time its death at every observer. */
export async function scnDetect(c: BenchCluster, ctx: ScenarioContext, trial: number): Promise<void> {
  const live = c.live();
  const n = live.length;
  const victim = live[1 + intn(ctx.rng, n - 1)]!;
  const viewsOK = c.fullView();
  c.tracker.resetWindow();
  const raised0 = c.counter(M.suspicionsRaised, live);
  const cm = new CpuMark();
  const t0 = now();
  const closing = victim.node.cluster.close(); // abrupt: sockets closed, nobody told
  victim.down = true;
  const { ok, ts } = await waitGone(c, victim, t0, 120_000);
  await closing;
  const cpu = cm.pct();
  const firstSusp = c.tracker.firstSuspectAt[victim.idx]!;
  const cfg = ctx.config;
  const suspMin = cfg.suspicionMult * Math.max(1, Math.log10(n)) * cfg.probeInterval;
  const o = base(ctx.run, 'detect', trial);
  o.live_nodes = n;
  o.ok = ok;
  o.views_complete_at_start = viewsOK;
  o.victim = victim.name;
  o.observers = n - 1;
  o.first_suspect_ms = Number.isNaN(firstSusp) ? null : ms(firstSusp - t0);
  o.detect_first_ms = pct(ts, 0);
  o.detect_p50_ms = pct(ts, 50);
  o.detect_last_ms = pct(ts, 100);
  o.observers_notified = ts.length;
  o.suspicion_timeout_min_ms = r1(suspMin);
  o.suspicion_timeout_max_ms = r1(suspMin * cfg.suspicionMaxTimeoutMult);
  o.suspect_transitions = c.tracker.suspectEvents;
  o.suspicions_raised = c.counter(M.suspicionsRaised, live) - raised0;
  o.cpu_pct = cpu;
  emit(o);
}

/** Graceful leave of a random live node other than node-000; time until every other live node saw it go. */
export async function scnLeave(c: BenchCluster, ctx: ScenarioContext, trial: number): Promise<void> {
  const live = c.live();
  const n = live.length;
  const victim = live[1 + intn(ctx.rng, n - 1)]!;
  const viewsOK = c.fullView();
  const cm = new CpuMark();
  const t0 = now();
  let err: unknown;
  try {
    await victim.node.cluster.leave(); // resolves after the leave spread and the node closed
  } catch (e) {
    err = e;
  }
  const leaveRet = now() - t0;
  victim.down = true;
  const { ok, ts, left } = await waitGone(c, victim, t0, 60_000);
  const cpu = cm.pct();
  const o = base(ctx.run, 'leave', trial);
  o.live_nodes = n;
  o.ok = ok && err === undefined;
  o.views_complete_at_start = viewsOK;
  o.victim = victim.name;
  o.observers = n - 1;
  o.leave_call_ms = ms(leaveRet);
  if (err !== undefined) o.leave_error = String(err);
  o.gone_first_ms = pct(ts, 0);
  o.gone_p50_ms = pct(ts, 50);
  o.gone_last_ms = pct(ts, 100);
  o.observers_notified = ts.length;
  o.observers_saw_left = left; // the rest saw "dead" (a suspicion ran out first)
  o.cpu_pct = cpu;
  emit(o);
}

// ---------------------------------------------------------------------------------------------
// falsepos

interface FpCounts {
  leaveEvents: number;
  joinEvents: number;
  leaveSubjects: number;
  suspectEvents: number;
  suspectSubjects: number;
  suspRaised: number;
  deadDeclared: number;
  refutations: number;
  failedDirect: number;
  tcpRescues: number;
  indirectRescues: number;
  probesSent: number;
  probesFailed: number;
}

function fpSnap(c: BenchCluster, live: BenchNode[]): FpCounts {
  const t = c.tracker;
  return {
    leaveEvents: t.leaveEvents,
    joinEvents: t.joinEvents,
    leaveSubjects: t.leaveSubj.size,
    suspectEvents: t.suspectEvents,
    suspectSubjects: t.suspectSubj.size,
    suspRaised: c.counter(M.suspicionsRaised, live),
    deadDeclared: c.counter(M.suspicionTimeouts, live),
    refutations: c.counter(M.refutations, live),
    failedDirect: c.counter(M.failedDirect, live),
    tcpRescues: c.counter(M.tcpRescue, live),
    indirectRescues: c.counter(M.indirectRescue, live),
    probesSent: c.counter(M.probeSent, live),
    probesFailed: c.counter(M.probeFailed, live),
  };
}

/**
 * False positives: on a converged, settled cluster every node drops each inbound datagram with
 * probability `loss` for `lossSecs`; then loss stops and the cluster is watched for `tailSecs`.
 */
export async function scnFalsePos(c: BenchCluster, ctx: ScenarioContext, trial: number, joinAttempts: number, loss: number, lossSecs: number, tailSecs: number): Promise<void> {
  const live = c.live();
  const n = live.length;
  const viewsOK = c.fullView();
  c.tracker.resetWindow();
  const start = fpSnap(c, live);
  const tr0 = c.traffic(live);
  const cm = new CpuMark();
  for (const nd of live) nd.node.setLoss(loss);
  // Minimum view size during the loss window, sampled at 10 Hz (memberlist's NumMembers()).
  let minView = n;
  const tEnd = now() + lossSecs * 1000;
  while (now() < tEnd) {
    for (const nd of live) minView = Math.min(minView, BenchCluster.viewSize(nd));
    await sleep(100);
  }
  for (const nd of live) nd.node.setLoss(0);
  const lossEnd = now();
  const during = fpSnap(c, live);
  const trDuring = c.traffic(live);
  const cpuDuring = cm.pct();
  // Tail: keep counting; time until every view is clean again.
  let recovered = -1;
  const tailEnd = lossEnd + tailSecs * 1000;
  while (now() < tailEnd) {
    if (recovered < 0 && c.fullView() && c.membersAllAlive()) recovered = now() - lossEnd;
    await sleep(20);
  }
  const after = fpSnap(c, live);
  const finalClean = c.fullView() && c.membersAllAlive();

  const d = subTraffic(trDuring, tr0);
  const w = (k: keyof FpCounts): number => during[k] - start[k];
  const o = base(ctx.run, 'falsepos', trial);
  o.live_nodes = n;
  o.ok = true;
  o.views_complete_at_start = viewsOK;
  o.join_attempts = joinAttempts;
  o.loss = loss;
  o.loss_window_s = lossSecs;
  o.tail_s = tailSecs;
  o.udp_dropped = d.udpDropped;
  o.udp_delivered = d.udpInPkts;
  o.observed_drop_rate = r3(d.udpDropped / Math.max(1, d.udpDropped + d.udpInPkts));
  // during the loss window
  o.false_dead_events = w('leaveEvents'); // dead/left events, (observer, subject) pairs; every subject was healthy
  o.false_dead_subjects = during.leaveSubjects; // distinct healthy nodes declared dead by at least one observer
  o.false_dead_declarations = w('deadDeclared'); // suspicion timers that expired
  o.suspicions_raised = w('suspRaised'); // probes that failed on every path and raised a suspicion
  o.suspected_subjects = during.suspectSubjects; // distinct nodes some observer marked suspect
  o.suspect_transitions = w('suspectEvents'); // alive → suspect, summed over observers
  o.refutations = w('refutations');
  o.rejoin_events = w('joinEvents');
  o.failed_direct_pings = w('failedDirect');
  o.tcp_fallback_rescues = w('tcpRescues');
  o.indirect_rescues = w('indirectRescues');
  o.probes_sent = w('probesSent');
  o.probes_failed = w('probesFailed');
  o.min_view_size = minView;
  // tail: late effects of suspicions raised during the window
  o.tail_false_dead_events = after.leaveEvents - during.leaveEvents;
  o.tail_suspect_transitions = after.suspectEvents - during.suspectEvents;
  o.recovered_ms_after_loss = recovered >= 0 ? ms(recovered) : null;
  o.clean_at_end = finalClean;
  o.cpu_pct = cpuDuring;
  o.rss_mb = rssMB();
  emit(o);
}
