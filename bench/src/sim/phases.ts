/**
 * The phases of `pnpm bench:sim`, each a function of the world that returns its result fields.
 * Times are simulated ms from the phase's trigger (the joins, the broadcast, the crash, the cut,
 * the heal); null means the wait timed out. Each phase starts from a converged cluster.
 */
import { minSuspicionTimeout } from '@grapevine/core';
import type { SimArgs } from './args.js';
import { PING_ALL, type SimWorld } from './world.js';

type Fields = Record<string, number | string | null | boolean>;

/** Advance until `pred` holds, checking every `step` simulated ms; elapsed ms, or null on timeout. */
async function waitFor(world: SimWorld, pred: () => boolean, timeoutMs: number, step?: number): Promise<number | null> {
  const t0 = world.clock.now();
  const ok = await world.clock.runUntil(pred, step === undefined ? { timeout: timeoutMs } : { timeout: timeoutMs, step });
  return ok ? world.clock.now() - t0 : null;
}

/** Every node joins the seeds (the first K nodes) at t=0; waits until every node holds all N alive. */
export async function joinPhase(world: SimWorld, args: SimArgs): Promise<Fields> {
  const n = args.nodes;
  const seedAddrs = Array.from({ length: args.seeds }, (_, i) => world.addressOf(i));
  let failed = 0;
  let settled = 0;
  for (let i = 0; i < n; i++) {
    const targets = seedAddrs.filter((_, j) => j !== i);
    if (targets.length === 0) {
      settled++;
      continue;
    }
    world.clusters[i]!.join(targets).then(
      () => settled++,
      () => {
        failed++;
        settled++;
      },
    );
  }
  const t0 = world.clock.now();
  const step = 10;
  const full = (): boolean => world.countAt(() => n) === n;
  let p99: number | null = null;
  const at99 = await waitFor(world, () => world.countAt(() => n) >= Math.ceil(0.99 * n), args.timeout * 1000, step);
  p99 = at99;
  const done = at99 === null ? null : await waitFor(world, full, args.timeout * 1000 - at99, step);
  const heap = process.memoryUsage().heapUsed;
  return {
    joins_failed: failed,
    joins_settled: settled,
    nodes_full_view: world.countAt(() => n),
    converged_99pct_ms: p99,
    converged_ms: done === null || at99 === null ? null : world.clock.now() - t0,
    resolution_ms: step,
    // Whole heap over N·N member entries: an upper bound on one entry's cost, everything included.
    heap_bytes_per_member_entry: Math.round(heap / (n * n)),
    ...gcMemoryPerEntry(n),
  };
}

/**
 * With node --expose-gc: heap plus the typed arrays' backing stores (outside the heap; the member
 * table's columns and the queues' arenas live there) after a full GC, over N·N member entries:
 * everything in the process, what the entries hold. Nothing without --expose-gc.
 */
function gcMemoryPerEntry(n: number): Fields {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return {};
  // Twice: array buffers whose views die in one collection are freed by the next.
  gc();
  gc();
  const after = process.memoryUsage();
  return { gc_memory_bytes_per_member_entry: Math.round((after.heapUsed + after.arrayBuffers) / (n * n)) };
}

/** Per-node traffic, CPU and memory over `idleSeconds` of a converged cluster without loss. */
export async function idlePhase(world: SimWorld, args: SimArgs): Promise<Fields> {
  world.resetFalse();
  await world.clock.advance(args.idleSeconds * 1000);
  return { false_deaths: world.falseDeaths, false_suspects: world.falseSuspects, ...gcMemoryPerEntry(world.opts.nodes) };
}

/** One node broadcasts; the time for 99%, 99.99% and 100% of the others to deliver it. */
export async function broadcastPhase(world: SimWorld, args: SimArgs): Promise<Fields> {
  const live = world.liveCount();
  const origin = Math.floor(world.opts.nodes / 2);
  const receivers = live - 1;
  const arrivals: number[] = [];
  const seen = new Uint8Array(world.opts.nodes);
  const id = world.clock.now() % 1_000_000;
  const t0 = world.clock.now();
  world.onPing = (node, got) => {
    if (got !== id || seen[node] === 1) return;
    seen[node] = 1;
    arrivals.push(world.clock.now() - t0);
  };
  world.clusters[origin]!.broadcast(PING_ALL, { id });
  const all = await waitFor(world, () => arrivals.length >= receivers, Math.min(args.timeout * 1000, 60_000));
  world.onPing = undefined;
  arrivals.sort((a, b) => a - b);
  const at = (q: number): number | null => {
    const k = Math.ceil(q * receivers);
    return k <= arrivals.length ? arrivals[k - 1]! : null;
  };
  // Let the piggybacked copies drain so the next phase starts quiet.
  await world.clock.advance(2_000);
  return { origin, receivers, delivered_to: arrivals.length, p99_ms: at(0.99), p9999_ms: at(0.9999), p100_ms: all === null ? null : at(1) };
}

/** `seconds` simulated seconds at `--loss` on every link: suspicions and deaths of live nodes. */
export async function lossPhase(world: SimWorld, args: SimArgs): Promise<Fields> {
  world.net.setLoss('*', '*', args.loss);
  world.resetFalse();
  const lost0 = world.net.stats.lost;
  await world.clock.advance(args.seconds * 1000);
  const n = world.liveCount();
  return {
    loss: args.loss,
    seconds: args.seconds,
    false_deaths: world.falseDeaths,
    false_suspects: world.falseSuspects,
    packets_lost: world.net.stats.lost - lost0,
    nodes_full_view: world.countAt(() => n),
  };
}

/** SIGKILL-like crash of one node (loss stays as the loss phase left it): first and last verdicts. */
export async function crashPhase(world: SimWorld, args: SimArgs): Promise<Fields> {
  const n = world.opts.nodes;
  const victim = args.seeds + ((args.seed * 2654435761) >>> 0) % (n - args.seeds);
  const observers = world.liveCount() - 1;
  let firstSuspect: number | null = null;
  let firstDead: number | null = null;
  let lastDead: number | null = null;
  let deadBy = 0;
  const dead = new Uint8Array(n);
  const t0 = world.clock.now();
  world.onVerdict = (obs, subj, ev) => {
    if (subj !== victim) return;
    const t = world.clock.now() - t0;
    if (ev.type === 'suspect' && firstSuspect === null) firstSuspect = t;
    if (ev.type === 'dead' && dead[obs] === 0) {
      dead[obs] = 1;
      deadBy++;
      firstDead ??= t;
      lastDead = t;
    }
  };
  world.resetFalse();
  await world.crash(victim);
  const all = await waitFor(world, () => deadBy >= observers, args.timeout * 1000);
  world.onVerdict = undefined;
  const cfg = world.clusters[0]!.config;
  const min = minSuspicionTimeout(cfg.suspicionMult, n, cfg.probeInterval);
  return {
    victim: world.names[victim]!,
    observers,
    dead_by: deadBy,
    first_suspect_ms: firstSuspect,
    first_dead_ms: firstDead,
    all_dead_ms: all === null ? null : lastDead,
    suspicion_min_ms: min,
    suspicion_max_ms: min * cfg.suspicionMaxTimeoutMult,
    false_deaths: world.falseDeaths,
  };
}

/** Cut the live nodes 50/50 until each side holds only itself, heal, time the reconvergence. */
export async function partitionPhase(world: SimWorld, args: SimArgs): Promise<Fields> {
  const live: number[] = [];
  for (let i = 0; i < world.opts.nodes; i++) if (world.down[i] === 0) live.push(i);
  const half = Math.floor(live.length / 2);
  const side = new Uint8Array(world.opts.nodes);
  for (let k = half; k < live.length; k++) side[live[k]!] = 1;
  const sizeOf = (i: number): number => (side[i] === 0 ? half : live.length - half);
  world.partitioned = true;
  world.net.partition(live.slice(0, half).map((i) => world.addressOf(i)), live.slice(half).map((i) => world.addressOf(i)));
  const split = await waitFor(world, () => world.countAt(sizeOf) === live.length, args.timeout * 1000, 100);
  world.net.heal();
  world.resetFalse();
  const healed = await waitFor(world, () => world.countAt(() => live.length) === live.length, args.timeout * 1000, 100);
  world.partitioned = false;
  return {
    sides: `${half}/${live.length - half}`,
    split_ms: split,
    heal_ms: healed,
    nodes_full_view: world.countAt(() => live.length),
    resolution_ms: 100,
  };
}
