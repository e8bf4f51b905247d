/**
 * Progress of a long `pnpm bench:sim` run, so one that does not finish still tells how far it got:
 * every `--progress` wall seconds a `progress` JSON line (phase, simulated time reached, nodes with
 * a full view, deliveries, RSS), and at `--max-wall` wall seconds a `stopped` line saying the same,
 * then exit code 3. Both run on a wall-clock interval, which fires between two simulated instants
 * (the virtual clock yields to the event loop there, and node creation yields every few hundred
 * nodes), so a single instant that takes longer than the interval delays the line, never loses it.
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import type { SimWorld } from './world.js';
import { DEFAULT_VIRTUAL_EPOCH } from '@grapevine/transport-memory';

export interface ProgressOptions {
  /** Seconds between progress lines; 0: none. */
  everyS: number;
  /** Stop the run after this many wall seconds; 0: never. */
  maxWallS: number;
  /** Fields every line carries (bench, n, seed...). */
  base: Record<string, unknown>;
  write: (row: Record<string, unknown>) => void;
  /** Called after the `stopped` line; ends the process. */
  exit: (code: number) => void;
}

/** Exit code of a run stopped by --max-wall. */
export const STOPPED_EXIT = 3;

export class Progress {
  private readonly t0 = performance.now();
  private phase = 'create';
  private phaseAt = performance.now();
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastLine = performance.now();

  constructor(
    private readonly world: SimWorld,
    private readonly opts: ProgressOptions,
  ) {
    if (opts.everyS <= 0 && opts.maxWallS <= 0) return;
    const tickMs = Math.max(50, Math.min(1000, (opts.everyS > 0 ? opts.everyS : opts.maxWallS) * 250));
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  /** The phase now running (named in every line). */
  enter(phase: string): void {
    this.phase = phase;
    this.phaseAt = performance.now();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Where the run is: the fields of a progress or stopped line. */
  snapshot(): Record<string, unknown> {
    const w = this.world;
    const n = w.opts.nodes;
    const mem = process.memoryUsage();
    const now = performance.now();
    return {
      in_phase: this.phase,
      sim_ms: w.clock.now() - DEFAULT_VIRTUAL_EPOCH,
      wall_s: Math.round((now - this.t0) / 100) / 10,
      phase_wall_s: Math.round((now - this.phaseAt) / 100) / 10,
      cpu_s: cpuSeconds(),
      nodes_created: w.clusters.length,
      nodes_full_view: w.clusters.length === n ? fullViews(w) : 0,
      deliveries: w.net.stats.delivered,
      rss_mb: Math.round(mem.rss / 1048576),
      heap_mb: Math.round(mem.heapUsed / 1048576),
      loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    };
  }

  private tick(): void {
    const now = performance.now();
    const o = this.opts;
    if (o.maxWallS > 0 && now - this.t0 >= o.maxWallS * 1000) {
      this.stop();
      o.write({ ...o.base, phase: 'stopped', reason: 'max-wall', max_wall_s: o.maxWallS, ...this.snapshot() });
      o.exit(STOPPED_EXIT);
      return;
    }
    if (o.everyS > 0 && now - this.lastLine >= o.everyS * 1000) {
      this.lastLine = now;
      o.write({ ...o.base, phase: 'progress', ...this.snapshot() });
    }
  }
}

/** Nodes up that hold every node up as alive: O(N), once per line. */
function fullViews(w: SimWorld): number {
  const live = w.liveCount();
  return w.countAt(() => live);
}

function cpuSeconds(): number {
  const c = process.cpuUsage();
  return Math.round((c.user + c.system) / 1e5) / 10;
}
