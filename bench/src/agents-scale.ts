/**
 * Real processes at scale: N `grapevine agent` processes on this machine (UDP+TCP on loopback,
 * port 0 each, the first three as seeds), read through `--events json`. Measures the time until
 * every agent lists all N alive, SIGKILLs one non-seed agent and measures when the first and the
 * last of the others declare it dead, then samples RSS and CPU of every agent (from /proc) over an
 * idle window. Every process it started is killed before it exits, on error and on Ctrl-C too.
 *
 *   node bench/dist/agents-scale.js [--agents 100] [--idle-seconds 30] [--timeout 180] [--seed 1]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';

/**
 * The CLI, from the repository root. The agent lives in packages/agent once it has its own package
 * and in packages/node before; this is the one place that knows.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const AGENT_CLI = ['packages/agent/dist/cli.js', 'packages/node/dist/cli.js'].map((p) => ROOT + p).find((p) => existsSync(p)) ?? `${ROOT}packages/agent/dist/cli.js`;

const SEEDS = 3;
const TICK = Number(process.env.CLK_TCK ?? 100); // Linux USER_HZ: /proc stat times are in 1/100 s

interface Agent {
  idx: number;
  name: string;
  proc: ChildProcess;
  addr?: string;
  /** Members this agent currently reports alive (itself included once ready). */
  alive: Set<string>;
  stderrTail: string;
  exited: boolean;
}

function fail(msg: string): never {
  process.stderr.write(`agents-scale: ${msg}\n`);
  process.exit(2);
}

function flags(): { agents: number; idleSeconds: number; timeout: number } {
  let v: Record<string, string | undefined>;
  try {
    ({ values: v } = parseArgs({ strict: true, options: { agents: { type: 'string' }, 'idle-seconds': { type: 'string' }, timeout: { type: 'string' } } }) as { values: Record<string, string | undefined> });
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = v[name];
    if (raw === undefined) return def;
    const x = Number(raw);
    if (!/^\d+$/.test(raw) || x < min || x > max) fail(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
    return x;
  };
  return { agents: int('agents', 100, SEEDS + 1, 1000), idleSeconds: int('idle-seconds', 30, 1, 3600), timeout: int('timeout', 180, 10, 3600) };
}

/** utime+stime (ms) and RSS (MB) of a pid, from /proc; undefined once it is gone. */
function procSample(pid: number): { cpuMs: number; rssMb: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = ((Number(f[11]) + Number(f[12])) * 1000) / TICK; // fields 14 and 15 of stat
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuMs, rssMb: rss ? Number(rss[1]) / 1024 : 0 };
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round1 = (x: number): number => Math.round(x * 10) / 10;

async function waitFor(pred: () => boolean, timeoutMs: number): Promise<number | null> {
  const t0 = performance.now();
  while (!pred()) {
    if (performance.now() - t0 > timeoutMs) return null;
    await sleep(20);
  }
  return performance.now() - t0;
}

function summary(xs: number[]): { mean: number; max: number; min: number } {
  return { mean: round1(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)), max: round1(Math.max(...xs)), min: round1(Math.min(...xs)) };
}

async function main(): Promise<void> {
  const opts = flags();
  const agents: Agent[] = [];
  const killAll = (): void => {
    for (const a of agents) if (!a.exited && a.proc.pid !== undefined) a.proc.kill('SIGKILL');
  };
  process.on('SIGINT', () => {
    killAll();
    process.exit(130);
  });
  process.on('exit', killAll);
  const onDead = new Map<string, (observer: Agent) => void>();
  const line = (row: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(row) + '\n');
  line({ bench: 'agents-scale', phase: 'run', agents: opts.agents, cli: AGENT_CLI.slice(ROOT.length), date: new Date().toISOString(), loadavg: loadavg().map(round1), node: process.version });

  const start = (idx: number, join: string[]): Agent => {
    const name = `agent-${String(idx).padStart(3, '0')}`;
    const args = [AGENT_CLI, 'agent', '--name', name, '--bind', '127.0.0.1:0', '--events', 'json', '--log-level', 'warn', ...join.flatMap((j) => ['--join', j])];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const a: Agent = { idx, name, proc, alive: new Set(), stderrTail: '', exited: false };
    proc.on('exit', () => (a.exited = true));
    proc.stderr!.on('data', (d: Buffer) => (a.stderrTail = (a.stderrTail + d.toString()).slice(-2000)));
    createInterface({ input: proc.stdout! }).on('line', (text) => {
      let ev: { event?: string; name?: string; addr?: string; state?: string };
      try {
        ev = JSON.parse(text) as typeof ev;
      } catch {
        return;
      }
      if (ev.event === 'ready') {
        a.addr = ev.addr;
        a.alive.add(name);
      } else if (ev.event === 'state' && typeof ev.name === 'string') {
        if (ev.state === 'alive') a.alive.add(ev.name);
        else a.alive.delete(ev.name);
        if (ev.state === 'dead') onDead.get(ev.name)?.(a);
      }
    });
    agents.push(a);
    return a;
  };

  try {
    const t0 = performance.now();
    for (let i = 0; i < SEEDS; i++) {
      const seed = start(i, agents.map((s) => s.addr!));
      if ((await waitFor(() => seed.addr !== undefined || seed.exited, 30_000)) === null || seed.addr === undefined) {
        throw new Error(`seed ${seed.name} never became ready: ${seed.stderrTail}`);
      }
    }
    const seedAddrs = agents.map((a) => a.addr!);
    // In batches of 10, each waiting for the previous to be ready: 100 Node processes booting at
    // once on 2 cores queue for minutes and starve the ones already gossiping.
    for (let i = SEEDS; i < opts.agents; i += 10) {
      const batch: Agent[] = [];
      for (let j = i; j < Math.min(i + 10, opts.agents); j++) batch.push(start(j, seedAddrs));
      await waitFor(() => batch.every((a) => a.addr !== undefined || a.exited), opts.timeout * 1000);
    }
    const ready = await waitFor(() => agents.every((a) => a.addr !== undefined || a.exited), opts.timeout * 1000);
    const exited = agents.filter((a) => a.exited);
    if (ready === null || exited.length > 0) throw new Error(`agents not ready (${exited.length} exited): ${exited[0]?.stderrTail ?? ''}`);
    const readyMs = performance.now() - t0;
    const converged = await waitFor(() => agents.every((a) => a.alive.size === opts.agents), opts.timeout * 1000);
    line({ bench: 'agents-scale', phase: 'join', agents: opts.agents, all_ready_ms: Math.round(readyMs), converged_after_ready_ms: converged === null ? null : Math.round(converged), full_views: agents.filter((a) => a.alive.size === opts.agents).length, view_sizes: summary(agents.map((a) => a.alive.size)), loadavg: loadavg().map(round1) });

    // Idle window: every agent's CPU and RSS.
    const before = agents.map((a) => procSample(a.proc.pid!));
    const w0 = performance.now();
    await sleep(opts.idleSeconds * 1000);
    const wall = performance.now() - w0;
    const after = agents.map((a) => procSample(a.proc.pid!));
    const cpuPct: number[] = [];
    const rss: number[] = [];
    agents.forEach((_, i) => {
      const b = before[i];
      const e = after[i];
      if (b === undefined || e === undefined) return;
      cpuPct.push((100 * (e.cpuMs - b.cpuMs)) / wall);
      rss.push(e.rssMb);
    });
    line({ bench: 'agents-scale', phase: 'idle', agents: opts.agents, window_ms: Math.round(wall), cpu_pct_per_agent: summary(cpuPct), cpu_pct_total: round1(cpuPct.reduce((x, y) => x + y, 0)), rss_mb_per_agent: summary(rss), rss_mb_total: Math.round(rss.reduce((x, y) => x + y, 0)), loadavg: loadavg().map(round1) });

    // SIGKILL one non-seed agent; time the others' verdicts.
    const victim = agents[SEEDS + Math.floor((opts.agents - SEEDS) / 2)]!;
    const deadAt = new Map<string, number>();
    const k0 = performance.now();
    onDead.set(victim.name, (obs) => {
      if (!deadAt.has(obs.name)) deadAt.set(obs.name, performance.now() - k0);
    });
    victim.proc.kill('SIGKILL');
    const others = agents.filter((a) => a !== victim);
    const all = await waitFor(() => others.every((o) => deadAt.has(o.name)), opts.timeout * 1000);
    const times = [...deadAt.values()].sort((x, y) => x - y);
    line({ bench: 'agents-scale', phase: 'crash', agents: opts.agents, victim: victim.name, dead_by: deadAt.size, observers: others.length, first_dead_ms: times.length ? Math.round(times[0]!) : null, all_dead_ms: all === null ? null : Math.round(times[times.length - 1]!), loadavg: loadavg().map(round1) });
  } finally {
    killAll();
    await waitFor(() => agents.every((a) => a.exited), 10_000);
    line({ bench: 'agents-scale', phase: 'end', still_running: agents.filter((a) => !a.exited).length });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`agents-scale: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
