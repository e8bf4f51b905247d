/**
 * The KV's Redis-protocol front end beside Redis itself, measured by the same client: starts
 * Debian's `redis-server` on a free loopback port (no persistence) and `--agents` Grapevine agents
 * with `--kv --kv-resp` (RF 3, W 2, R 1), then runs
 *   redis-benchmark -t set,get -n N -c 50 -d 100 --csv
 * against redis-server and against one agent's RESP port (the client reaches the cluster through
 * that agent, which coordinates every call). Also memory: redis-server's used_memory growth for
 * `--memory-keys` SETs of 100-byte values, per key. Prints JSON lines; needs redis-server and
 * redis-tools (`apt-get install redis-server redis-tools`).
 *
 * `--via N` points the client at agent N instead of agent 0; `--keyspace K` adds `-r K` (random keys
 * instead of redis-benchmark's one fixed key); `--near-cache MS` starts the agents with
 * `--kv-near-cache MS --mesh`; `--skip-redis` measures only the cluster.
 *
 *   node bench/dist/kv-redis.js [--requests 100000] [--agents 5] [--memory-keys 100000] [--via 0]
 *        [--keyspace K] [--near-cache MS] [--skip-redis]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { emit, progress, sleep } from './util.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string' },
    agents: { type: 'string' },
    'memory-keys': { type: 'string' },
    via: { type: 'string' },
    keyspace: { type: 'string' },
    'near-cache': { type: 'string' },
    'skip-redis': { type: 'boolean' },
  },
});
const VIA = Number(values.via ?? 0);
const KEYSPACE = values.keyspace !== undefined ? Number(values.keyspace) : undefined;
const NEAR = values['near-cache'];
const REQUESTS = Number(values.requests ?? 100_000);
const AGENTS = Number(values.agents ?? 5);
const MEM_KEYS = Number(values['memory-keys'] ?? 100_000);
const CLI = fileURLToPath(new URL('../../packages/agent/dist/cli.js', import.meta.url));
const procs: ChildProcess[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
  await new Promise((r) => s.close(r));
  return port;
}

function cli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 30_000 }).stdout.trim();
}

async function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(200);
  }
}

/** redis-benchmark --csv → one row per test. */
function benchmark(target: string, port: number): void {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', 'set,get', '-n', String(REQUESTS), '-c', '50', '-d', '100', ...(KEYSPACE !== undefined ? ['-r', String(KEYSPACE)] : []), '--csv'];
  const r = spawnSync('redis-benchmark', args, { encoding: 'utf8', timeout: 3_600_000 });
  for (const line of r.stdout.split('\n')) {
    const cols = line.split(',').map((c) => c.replace(/"/g, ''));
    if (cols.length < 8 || cols[0] === 'test') continue;
    emit({ bench: 'kv-redis-benchmark', target, test: cols[0], requests: REQUESTS, ...(KEYSPACE !== undefined ? { keyspace: KEYSPACE } : {}), clients: 50, dataBytes: 100, rps: Number(cols[1]), avgMs: Number(cols[2]), p50Ms: Number(cols[4]), p95Ms: Number(cols[5]), p99Ms: Number(cols[6]), maxMs: Number(cols[7]) });
  }
}

try {
  // redis-server, no persistence, loopback only.
  const redisPort = await freePort();
  procs.push(spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
  await waitFor(() => cli(redisPort, 'PING') === 'PONG', 10_000);

  // Grapevine agents.
  const resp: number[] = [];
  let seed = '';
  for (let i = 0; i < AGENTS; i++) {
    const bind = await freePort();
    const rp = await freePort();
    resp.push(rp);
    procs.push(spawn(process.execPath, [CLI, 'agent', '--name', `bench-${i}`, '--bind', `127.0.0.1:${bind}`, '--profile', 'fast', '--log-level', 'warn', '--kv', '--kv-resp', `127.0.0.1:${rp}`, ...(NEAR !== undefined ? ['--kv-near-cache', NEAR, '--mesh'] : []), ...(seed ? ['--join', seed] : [])], { stdio: 'ignore' }));
    if (!seed) seed = `127.0.0.1:${bind}`;
  }
  await waitFor(() => resp.every((p) => cli(p, 'INFO').includes(`kv_members:${AGENTS}`)), 60_000);
  progress(`redis-server on ${redisPort}, ${AGENTS} agents ready`);

  // Memory per key: used_memory growth in redis-server for the same keys and value size.
  const before = Number(/used_memory:(\d+)/.exec(cli(redisPort, 'INFO', 'memory'))![1]);
  const pipe = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(redisPort), '--pipe'], {
    input: Array.from({ length: MEM_KEYS }, (_, j) => `SET key:${String(j).padStart(12, '0')} ${'x'.repeat(100)}\r\n`).join(''),
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (pipe.status !== 0) throw new Error(`redis-cli --pipe failed: ${pipe.stderr}`);
  const after = Number(/used_memory:(\d+)/.exec(cli(redisPort, 'INFO', 'memory'))![1]);
  emit({ bench: 'kv-memory-redis', keys: MEM_KEYS, valueBytes: 100, keyBytes: 16, bytesPerEntry: Math.round((after - before) / MEM_KEYS) });
  cli(redisPort, 'FLUSHALL');

  if (!values['skip-redis']) benchmark('redis-server', redisPort);
  benchmark(`grapevine-${AGENTS}-agents-rf3-w2-r1-via-${VIA}${NEAR !== undefined ? `-near-cache-${NEAR}` : ''}`, resp[VIA]!);
} finally {
  for (const p of procs) p.kill('SIGKILL');
}
process.exit(0);
