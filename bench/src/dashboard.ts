/**
 * The agent's dashboard and its idle cost. Two scenarios, each against a real agent process (the
 * built CLI, default 'lan' timing) joined by nodes that run in this process:
 *
 * dashboard-paint  --members (100) in all; the agent's dashboard open in Debian's headless Chromium
 *                  (playwright-core with executablePath). `--churn` (20) of the in-process nodes
 *                  leave gracefully and then rejoin, `--rounds` (3) times: every leave and rejoin
 *                  is a state change on the agent. The page marks each state change when the frame
 *                  that shows it runs (performance.mark 'grapevine:paint', detail.latencyMs = that
 *                  time minus the event's `at`, the agent's wall clock at the change; both clocks
 *                  are this machine's), and the bench reads the marks back through the Performance
 *                  API. Target: p95 <= 200 ms.
 * agent-idle       --idle-members (50) in all, nobody watching; after --settle-s (10) seconds, the
 *                  agent's CPU time over --window-s (30) seconds from /proc/PID/stat as % of one
 *                  core, and its RSS. Targets: <= 1 % and <= 80 MB.
 *
 *   node bench/dist/dashboard.js [--scenario paint|idle|both] [--members 100] [--churn 20] [--rounds 3]
 *                                [--idle-members 50] [--settle-s 10] [--window-s 30] [--screenshot PATH]
 *
 * Linux only (/proc). Prints one JSON line per scenario and one with the machine's load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createCluster, type NodeCluster } from '@grapevine/node';
import { emit, pct, progress, r1, sleep } from './util.js';

const CLI = fileURLToPath(new URL('../../packages/agent/dist/cli.js', import.meta.url));
const CHROMIUM = process.env.GRAPEVINE_CHROMIUM ?? '/usr/bin/chromium';
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const num = (name: string, fallback: number, min: number, max: number): number => {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isInteger(v) || v < min || v > max) {
    process.stderr.write(`dashboard bench: ${name} must be an integer in ${min}..${max}\n`);
    process.exit(2);
  }
  return v;
};
const scenario = arg('--scenario', 'both');
if (!['paint', 'idle', 'both'].includes(scenario)) {
  process.stderr.write('dashboard bench: --scenario must be paint, idle or both\n');
  process.exit(2);
}
const members = num('--members', 100, 3, 500);
const churn = num('--churn', 20, 1, members - 2);
const rounds = num('--rounds', 3, 1, 100);
const idleMembers = num('--idle-members', 50, 2, 500);
const settleS = num('--settle-s', 10, 0, 600);
const windowS = num('--window-s', 30, 1, 3600);
const screenshot = process.argv.includes('--screenshot') ? arg('--screenshot', '') : undefined;

interface Agent {
  proc: ChildProcess;
  addr: string;
  http: string;
}

async function startAgent(): Promise<Agent> {
  const proc = spawn(process.execPath, [CLI, 'agent', '--name', 'agent', '--bind', '127.0.0.1:0', '--http', '127.0.0.1:0', '--events', 'json', '--log-level', 'error', '--meta', 'role=agent'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<{ addr: string; http: string }>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`agent exited with ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const ev = JSON.parse(line) as { event: string; addr: string; http: string };
      if (ev.event === 'ready') resolve(ev);
    });
  });
  return { proc, ...ready };
}

async function stopAgent(a: Agent): Promise<void> {
  const exited = new Promise((r) => a.proc.once('exit', r));
  a.proc.kill('SIGTERM');
  await exited;
}

const startNode = (i: number, seed: string): Promise<NodeCluster> =>
  createCluster({ name: `n-${String(i).padStart(3, '0')}`, bind: '127.0.0.1:0', seeds: [seed], meta: { zone: `z${i % 3}`, rack: `r${i % 7}` } });

async function joinAll(count: number, seed: string): Promise<NodeCluster[]> {
  const nodes: NodeCluster[] = [];
  // In batches, so the seed is not flooded by a hundred joins at once.
  for (let i = 0; i < count; i += 10) nodes.push(...(await Promise.all(Array.from({ length: Math.min(10, count - i) }, (_, j) => startNode(i + j, seed)))));
  return nodes;
}

async function aliveOnAgent(http: string): Promise<number> {
  const res = await fetch(`http://${http}/v1/members?state=alive`);
  return ((await res.json()) as unknown[]).length;
}

async function waitFor(check: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function paint(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`headless Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  const agent = await startAgent();
  const nodes = await joinAll(members - 1, agent.addr);
  try {
    await waitFor(async () => (await aliveOnAgent(agent.http)) === members, `${members} alive on the agent`, 60_000);
    progress(`paint: ${members} members alive on the agent`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
      await page.goto(`http://${agent.http}/`);
      // Runs in the page (a string, as this package is compiled without the DOM's types).
      await page.waitForFunction(`document.querySelectorAll('#members tbody .badge.alive').length === ${members}`, undefined, { timeout: 30_000 });
      await sleep(2000); // the first stats polls and charts
      const churned = nodes.slice(0, churn);
      const names = new Set(churned.map((c) => c.name));
      let changes = 0;
      for (let r = 0; r < rounds; r++) {
        await Promise.all(churned.map((c) => c.leave({ signal: AbortSignal.timeout(3000) }).catch(() => c.close())));
        changes += churn;
        await waitFor(async () => (await aliveOnAgent(agent.http)) === members - churn, 'the leaves on the agent', 30_000);
        await sleep(1000);
        const again = await Promise.all(churned.map((c, i) => startNode(i, agent.addr)));
        churned.splice(0, churned.length, ...again);
        nodes.splice(0, churn, ...again);
        changes += churn;
        await waitFor(async () => (await aliveOnAgent(agent.http)) === members, 'the rejoins on the agent', 30_000);
        await sleep(1000);
        progress(`paint: round ${r + 1}/${rounds} done`);
      }
      const marks = (await page.evaluate(`performance.getEntriesByName('grapevine:paint').map((e) => e.detail)`)) as { name: string; state: string; receivedMs: number; latencyMs: number }[];
      const ours = marks.filter((m) => names.has(m.name));
      const lat = ours.map((m) => m.latencyMs).sort((a, b) => a - b);
      // Where the time goes: the event's trip to the page (agent, SSE, browser's network stack),
      // and the page's own part (the frame that draws it, and the next).
      const recv = ours.map((m) => m.receivedMs).sort((a, b) => a - b);
      const inPage = ours.map((m) => m.latencyMs - m.receivedMs).sort((a, b) => a - b);
      if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
      emit({
        scenario: 'dashboard-paint', members, churned: churn, rounds, state_changes: changes, painted: lat.length,
        paint_p50_ms: r1(pct(lat, 50)), paint_p95_ms: r1(pct(lat, 95)), paint_max_ms: r1(lat[lat.length - 1] ?? Number.NaN), target_p95_ms: 200,
        received_p50_ms: r1(pct(recv, 50)), received_p95_ms: r1(pct(recv, 95)), in_page_p50_ms: r1(pct(inPage, 50)), in_page_p95_ms: r1(pct(inPage, 95)),
      });
    } finally {
      await browser.close();
    }
  } finally {
    await Promise.all(nodes.map((c) => c.close()));
    await stopAgent(agent);
  }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? r1(Number(m[1]) / 1024) : Number.NaN;
}

async function idle(): Promise<void> {
  const agent = await startAgent();
  const nodes = await joinAll(idleMembers - 1, agent.addr);
  try {
    await waitFor(async () => (await aliveOnAgent(agent.http)) === idleMembers, `${idleMembers} alive on the agent`, 60_000);
    progress(`idle: ${idleMembers} members; settling ${settleS} s, then measuring ${windowS} s`);
    await sleep(settleS * 1000);
    const pid = agent.proc.pid!;
    const c0 = cpuSeconds(pid);
    const t0 = Date.now();
    await sleep(windowS * 1000);
    const cpu = (cpuSeconds(pid) - c0) / ((Date.now() - t0) / 1000);
    emit({ scenario: 'agent-idle', members: idleMembers, window_s: windowS, cpu_pct_of_core: Math.round(cpu * 10_000) / 100, rss_mib: rssMiB(pid), target_cpu_pct: 1, target_rss_mb: 80 });
  } finally {
    await Promise.all(nodes.map((c) => c.close()));
    await stopAgent(agent);
  }
}

emit({ scenario: 'dashboard-env', node: process.version, cpus: cpus().length, loadavg_1m: r1(loadavg()[0] ?? 0), shared_machine: true });
if (scenario !== 'idle') await paint();
if (scenario !== 'paint') await idle();
emit({ scenario: 'dashboard-env-end', loadavg_1m: r1(loadavg()[0] ?? 0) });
process.exit(0);
