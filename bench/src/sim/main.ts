/**
 * `pnpm bench:sim`: the core `Cluster` at scale on transport-memory and a VirtualClock (1 ms links,
 * no jitter, every node joining the seeds at t=0). Prints one JSON line per phase on stdout;
 * progress goes to stderr, and every --progress wall seconds a `progress` line to stdout (a run
 * stopped by --max-wall ends with a `stopped` line and exit code 3; see progress.ts). The same
 * flags and seed give the same simulated results (wall and CPU figures vary with the machine).
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { ArgError, USAGE, parseSimArgs, type Phase, type SimArgs } from './args.js';
import { PhaseMeter } from './meter.js';
import { Progress } from './progress.js';
import { broadcastPhase, crashPhase, idlePhase, joinPhase, lossPhase, partitionPhase } from './phases.js';
import { SimWorld } from './world.js';
import { DEFAULT_VIRTUAL_EPOCH } from '@grapevine/transport-memory';

type PhaseFn = (world: SimWorld, args: SimArgs) => Promise<Record<string, unknown>>;
const RUN: Record<Phase, PhaseFn> = {
  join: joinPhase,
  idle: idlePhase,
  broadcast: broadcastPhase,
  loss: lossPhase,
  crash: crashPhase,
  partition: partitionPhase,
};

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function line(row: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(row) + '\n');
}

async function main(): Promise<number> {
  let args: SimArgs | 'help';
  try {
    args = parseSimArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof ArgError)) throw err;
    process.stderr.write(`bench:sim: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const base = { bench: 'sim', n: args.nodes, seed: args.seed, codec: args.codec, seeds: args.seeds, profile: args.profile };
  line({ ...base, phase: 'run', date: new Date().toISOString(), commit: commit(), node: process.version, loadavg: loadavg().map((x) => Math.round(x * 100) / 100), args });
  const world = new SimWorld({ nodes: args.nodes, seed: args.seed, codec: args.codec, profile: args.profile, delay: args.delay, config: args.config, counters: args.counters });
  const progress = new Progress(world, { everyS: args.progress, maxWallS: args.maxWall, base, write: line, exit: (code) => process.exit(code) });
  const create = new PhaseMeter(world);
  await world.create();
  line({ ...base, phase: 'create', ...create.finish() });
  for (const phase of args.phases) {
    process.stderr.write(`[bench:sim] ${phase} (n=${args.nodes}, t=${world.clock.now() - DEFAULT_VIRTUAL_EPOCH} ms simulated)\n`);
    progress.enter(phase);
    const meter = new PhaseMeter(world);
    const fields = await RUN[phase](world, args);
    line({ ...base, phase, ...fields, ...meter.perNodeRates(), ...meter.finish(), ...(world.metrics ? { counters: Object.fromEntries(world.metrics.counters) } : {}) });
    world.metrics?.counters.clear();
  }
  progress.enter('close');
  await world.close();
  progress.stop();
  line({ ...base, phase: 'end', loadavg: loadavg().map((x) => Math.round(x * 100) / 100), peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:sim: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
