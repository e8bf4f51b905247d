/**
 * How long `GET /metrics` takes on an agent that knows 100 members. Starts a real agent (the built
 * CLI, `--http 127.0.0.1:0`, rate limit off so the scrapes are not throttled), joins `--members`-1
 * nodes created in this process to it, waits until the agent sees them all alive, then scrapes
 * `/metrics` `--scrapes` times one after another over a keep-alive connection (after 20 warm-up
 * scrapes) and reports the client-side time of each (request written to body read) as p50, p99
 * and max, with the size of the exposition and the agent's CPU time per scrape (from /proc, its
 * idle CPU subtracted), which a loaded machine distorts far less than wall time.
 *
 *   node bench/dist/metrics-scrape.js [--members 100] [--scrapes 200] [--profile lan]
 *     [--members-in child|bench] [--cli PATH]
 *
 * The members run in a child process (members-host.ts) unless `--members-in bench`, which puts them
 * in this process as before 2026-12-02: there their probes, gossip and garbage collection delay
 * this process's reads, so the client-side times include the bench's own event loop. `--cli PATH`
 * scrapes another build of the agent (say /work/other-checkout/packages/agent/dist/cli.js), so two
 * builds compare in one sitting.
 *
 * Prints one JSON line. The target (issue 12) is p99 <= 5 ms.
 */
import { spawn } from 'node:child_process';
import { Agent, get } from 'node:http';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { createCluster, type Cluster } from '@grapevine/node';
import type { ProfileName } from '@grapevine/core';
import { startMembersHost, type MembersHost } from './members-host.js';
import { emit, progress, sleep } from './util.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const members = Number(arg('--members', '100'));
const scrapes = Number(arg('--scrapes', '200'));
const profile = arg('--profile', 'lan') as ProfileName;
const membersIn = arg('--members-in', 'child');
if (membersIn !== 'child' && membersIn !== 'bench') throw new Error('--members-in is child or bench');
const CLI = arg('--cli', fileURLToPath(new URL('../../packages/agent/dist/cli.js', import.meta.url)));

const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
function fetchText(url: string): Promise<{ ms: number; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    get(url, { agent: keepAlive }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ ms: performance.now() - t0, body }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** The agent's CPU time so far (user + system, ms), from /proc (Linux; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const agent = spawn(process.execPath, [CLI, 'agent', '--name', 'scraped', '--bind', '127.0.0.1:0', '--http', '127.0.0.1:0', '--http-rate-limit', '0', '--events', 'json', '--profile', profile, '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'inherit'] });
const ready = await new Promise<{ addr: string; http: string }>((resolve) => {
  createInterface({ input: agent.stdout! }).on('line', (line) => {
    const ev = JSON.parse(line) as { event: string; addr: string; http: string };
    if (ev.event === 'ready') resolve(ev);
  });
});
const nodes: Cluster[] = [];
let host: MembersHost | undefined;
try {
  if (membersIn === 'child') host = await startMembersHost(ready.addr, members - 1, profile);
  else for (let i = 1; i < members; i++) nodes.push(await createCluster({ name: `n${i}`, bind: '127.0.0.1:0', profile, seeds: [ready.addr] }));
  const url = `http://${ready.http}/metrics`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { body } = await fetchText(url);
    const alive = Number(/^grapevine_members\{state="alive"\} (\d+)$/m.exec(body)?.[1] ?? 0);
    if (alive >= members) break;
    if (Date.now() > deadline) throw new Error(`the agent saw only ${alive} of ${members} members alive`);
    await sleep(500);
  }
  progress(`agent sees ${members} members; scraping ${scrapes} times`);
  for (let i = 0; i < 20; i++) await fetchText(url);
  const times: number[] = [];
  let bytes = 0;
  // The agent's CPU per scrape, less its idle CPU over as long a time: on a loaded machine the wall
  // times include waiting for a core, the CPU time does not.
  const idle0 = cpuMs(agent.pid!);
  const idleStart = performance.now();
  await sleep(2000);
  const idleRate = (cpuMs(agent.pid!) - idle0) / (performance.now() - idleStart);
  const cpu0 = cpuMs(agent.pid!);
  const wall0 = performance.now();
  for (let i = 0; i < scrapes; i++) {
    const r = await fetchText(url);
    times.push(r.ms);
    bytes = Buffer.byteLength(r.body);
  }
  const cpuPerScrape = (cpuMs(agent.pid!) - cpu0 - idleRate * (performance.now() - wall0)) / scrapes;
  times.sort((a, b) => a - b);
  const round = (v: number): number => Math.round(v * 100) / 100;
  emit({
    bench: 'metrics-scrape',
    members,
    scrapes,
    profile,
    membersIn,
    cli: CLI,
    p50Ms: round(quantile(times, 0.5)),
    p99Ms: round(quantile(times, 0.99)),
    maxMs: round(times[times.length - 1]!),
    agentCpuMsPerScrape: round(cpuPerScrape),
    bytes,
    load1: round(loadavg()[0]!),
  });
} finally {
  keepAlive.destroy();
  agent.kill('SIGTERM');
  await Promise.all([...nodes.map((n) => n.close()), host?.close()]);
}
