/**
 * What event-stream clients that never read cost an agent. Starts a real agent (the built CLI) with
 * --http, opens `--clients` raw `GET /v1/events` connections that never read a byte, then makes a
 * `--churners` nodes in this process change their metadata every 20 ms (each change the agent sees
 * is one `updated` event of about 1 KB written to every stream) until a client that reads has been
 * sent `--mib-per-stream` MiB, so every variant faces the same volume, and reads the agent's RSS from /proc before the clients,
 * after they connected, and after the updates.
 *
 *   node bench/dist/sse-clients.js [--clients 1000] [--mib-per-stream 4] [--churners 8] [--variant bounded|unbounded|both]
 *
 * `bounded` is the agent as shipped (256 clients, 1 MiB unsent per client); `unbounded` lifts both
 * bounds (--http-max-event-clients and --http-event-buffer-bytes at 10^12), which is how the agent
 * behaved before they existed. Prints one JSON line per variant. Linux only (/proc).
 */
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createCluster } from '@grapevine/node';
import { emit, progress, sleep } from './util.js';

const CLI = fileURLToPath(new URL('../../packages/agent/dist/cli.js', import.meta.url));
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const clients = Number(arg('--clients', '1000'));
const mibPerStream = Number(arg('--mib-per-stream', '4'));
const churners = Number(arg('--churners', '8'));
const variantArg = arg('--variant', 'both');
const variants = variantArg === 'both' ? ['unbounded', 'bounded'] : [variantArg];

const rssMiB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : Number.NaN;
};

function rawClient(port: number): { socket: Socket; status: Promise<number> } {
  const socket = connect({ host: '127.0.0.1', port });
  const status = new Promise<number>((resolve) => {
    socket.once('data', (d: Buffer) => {
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1] ?? 0));
      socket.pause(); // never read again: what a stuck or hostile client does
    });
    socket.on('error', () => resolve(0));
    socket.on('close', () => resolve(0));
  });
  socket.write('GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  return { socket, status };
}

async function runVariant(variant: string, dir: string): Promise<void> {
  const config = join(dir, 'fast.json');
  writeFileSync(config, JSON.stringify({ profile: 'fast' }));
  const bounds = variant === 'unbounded' ? ['--http-max-event-clients', '1000000000000', '--http-event-buffer-bytes', '1000000000000'] : [];
  const agent = spawn(process.execPath, [CLI, 'agent', '--name', 'sse', '--bind', '127.0.0.1:0', '--http', '127.0.0.1:0', '--events', 'json', '--config', config, '--log-level', 'error', ...bounds], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<{ addr: string; http: string }>((resolve) => {
    createInterface({ input: agent.stdout! }).on('line', (line) => {
      const ev = JSON.parse(line) as { event: string; addr: string; http: string };
      if (ev.event === 'ready') resolve(ev);
    });
  });
  const port = Number(ready.http.split(':').pop());
  const churn = await Promise.all(Array.from({ length: churners }, (_, i) => createCluster({ name: `churn-${i}`, bind: '127.0.0.1:0', profile: 'fast', seeds: [ready.addr] })));
  await sleep(500);
  const rssIdle = rssMiB(agent.pid!);
  // One client that reads, to count what every stream was sent.
  let eventBytes = 0;
  let events = 0;
  const reader = connect({ host: '127.0.0.1', port });
  reader.on('data', (d: Buffer) => {
    eventBytes += d.length;
    events += d.toString('latin1').split('data: ').length - 1;
  });
  reader.on('error', () => undefined);
  reader.write('GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await sleep(200);
  const open: { socket: Socket; status: Promise<number> }[] = [];
  for (let i = 0; i < clients; i++) {
    open.push(rawClient(port));
    if (i % 100 === 99) await sleep(20);
  }
  const statuses = await Promise.all(open.map((c) => c.status));
  const accepted = statuses.filter((s) => s === 200).length;
  const refused = statuses.filter((s) => s === 503).length;
  await sleep(500);
  const rssConnected = rssMiB(agent.pid!);
  progress(`${variant}: ${accepted} streams open, ${refused} refused; updating metadata until ${mibPerStream} MiB went to each stream`);
  const blob = 'x'.repeat(900);
  // Change metadata until every stream was sent `--mib-per-stream` (what the reading client got),
  // so both variants face the same volume whatever the machine's load does to the event rate.
  const target = mibPerStream * 1048576;
  const started = Date.now();
  let updates = 0;
  while (eventBytes < target && Date.now() - started < 600_000) {
    for (const c of churn) c.setMeta({ blob, seq: String(updates) });
    updates++;
    await sleep(20);
  }
  // Wait for the agent to have seen the last update, then for its writes to settle.
  const seen = async (): Promise<boolean> => {
    const r = await fetch(`http://${ready.http}/v1/members`);
    const members = (await r.json()) as { name: string; meta: Record<string, string> }[];
    return churn.every((c) => members.find((m) => m.name === c.name)?.meta.seq === String(updates - 1));
  };
  const deadline = Date.now() + 60_000;
  while (!(await seen()) && Date.now() < deadline) await sleep(200);
  await sleep(1000);
  const rssAfter = rssMiB(agent.pid!);
  const metrics = await (await fetch(`http://${ready.http}/metrics`)).text();
  const counter = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
  emit({
    bench: 'sse-clients',
    variant,
    clients,
    accepted,
    refused,
    mib_target: mibPerStream,
    updates,
    churners,
    events_per_stream: events,
    mib_per_stream: Math.round((eventBytes / 1048576) * 10) / 10,
    rss_idle_mib: rssIdle,
    rss_connected_mib: rssConnected,
    rss_after_updates_mib: rssAfter,
    growth_mib: Math.round((rssAfter - rssIdle) * 10) / 10,
    dropped: counter('grapevine_http_event_clients_dropped_total'),
    open_after: counter('grapevine_http_event_clients'),
  });
  for (const c of open) c.socket.destroy();
  reader.destroy();
  await Promise.all(churn.map((c) => c.close()));
  agent.kill('SIGKILL');
  await new Promise((r) => agent.once('exit', r));
}

const dir = mkdtempSync(join(tmpdir(), 'gv-sse-bench-'));
try {
  for (const v of variants) await runVariant(v, dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
