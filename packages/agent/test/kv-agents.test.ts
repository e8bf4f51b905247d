/**
 * The KV across real agent processes on loopback: five agents with --kv (RF=3, W=2), acknowledged
 * writes through the HTTP API while one agent is SIGKILLed half-way, then two more agents join;
 * every acknowledged write is readable afterwards from every agent. Also: TTL expiry, bad keys,
 * huge values and bad bodies over HTTP, malformed RESP, and redis-cli (Debian's redis-tools)
 * driving the RESP port. Waits poll with generous bounds; nothing asserts a timing.
 */
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { agentFixture, freePort, type Agent } from './cli-harness.js';

const fx = agentFixture('grapevine-kv-');
const WRITES = 600;

interface KvAgent {
  agent: Agent;
  http: string;
  resp: number;
}

async function startKv(name: string, join?: KvAgent): Promise<KvAgent> {
  const resp = await freePort();
  const agent = fx.startAgent(name, ['--http', '127.0.0.1:0', '--kv', '--kv-resp', `127.0.0.1:${resp}`, ...(join ? ['--join', join.agent.ready!.addr] : [])]);
  const ready = await agent.waitReady();
  return { agent, http: ready.http!, resp };
}

async function poll(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; ${fx.agents.map((a) => `${a.name}: ${a.stderr.slice(-600)}`).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every agent lists exactly `names` as alive KV members. */
async function kvMembers(agents: KvAgent[]): Promise<boolean> {
  const want = agents.map((a) => a.agent.name).sort().join();
  for (const a of agents) {
    const res = await fetch(`http://${a.http}/v1/members?state=alive`);
    const list = (await res.json()) as { name: string; meta: Record<string, string> }[];
    if (list.filter((m) => m.meta.kv === '1').map((m) => m.name).sort().join() !== want) return false;
  }
  return true;
}

/**
 * One HTTP request on its own connection (no keep-alive: a pooled connection the server closes
 * while idle would fail the next request for a reason that has nothing to do with the KV).
 */
interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text(): Promise<string>;
  json(): Promise<unknown>;
}
function fetch(url: string, init: { method?: string; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: async () => body, json: async () => JSON.parse(body) as unknown });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const put = (a: KvAgent, key: string, value: string, query = ''): Promise<Reply> => fetch(`http://${a.http}/v1/kv/${encodeURIComponent(key)}${query}`, { method: 'PUT', body: value });
const get = (a: KvAgent, key: string): Promise<Reply> => fetch(`http://${a.http}/v1/kv/${encodeURIComponent(key)}`);

/** Send raw bytes to a RESP port; resolve what came back before the server closed (or a pause). */
function rawResp(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const done = (): void => {
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 3000);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on('error', reject);
    s.write(bytes);
  });
}

function redisCli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error('redis-cli is not installed: on Debian or Ubuntu, apt-get install redis-tools (.ci/run does)');
  }
  if (r.error) throw r.error;
  return r.stdout.trim();
}

describe('grapevine agent --kv (5 processes, RF=3, W=2)', () => {
  const nodes: KvAgent[] = [];

  it('keeps every acknowledged write through a SIGKILL and two joins', async () => {
    nodes.push(await startKv('kv-0'));
    for (let i = 1; i < 5; i++) nodes.push(await startKv(`kv-${i}`, nodes[0]));
    await poll(() => kvMembers(nodes), 'five KV members on every agent');

    const victim = nodes[3]!;
    const acked = new Map<string, string>();
    let next = 0;
    let killed = false;
    const writer = async (): Promise<void> => {
      while (next < WRITES) {
        const i = next++;
        if (!killed && acked.size >= WRITES / 2) {
          killed = true;
          victim.agent.kill('SIGKILL');
        }
        const live = nodes.filter((n) => !(killed && n === victim));
        const via = live[i % live.length]!;
        const key = `key-${i}`;
        const value = `value-${i}-${'x'.repeat(i % 50)}`;
        const res = await put(via, key, value).catch(() => undefined);
        if (res?.status === 204) acked.set(key, value);
        else await res?.text().catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: 16 }, writer));
    expect(killed).toBe(true);
    expect(acked.size).toBeGreaterThan(WRITES * 0.9);
    await victim.agent.exited;
    const survivors = nodes.filter((n) => n !== victim);
    await poll(() => kvMembers(survivors), 'the killed agent gone from every ring');

    // Two more agents join: keys move to their new owners and stay readable.
    survivors.push(await startKv('kv-5', survivors[0]));
    survivors.push(await startKv('kv-6', survivors[0]));
    await poll(() => kvMembers(survivors), 'six KV members on every agent');

    // Read every acknowledged key back from every agent, 200 keys per MGET (redis-cli on its RESP port).
    const unreadable = async (): Promise<string[]> => {
      const bad: string[] = [];
      const entries = [...acked];
      for (const a of survivors) {
        for (let i = 0; i < entries.length; i += 200) {
          const batch = entries.slice(i, i + 200);
          const got = redisCli(a.resp, 'MGET', ...batch.map(([k]) => k)).split('\n');
          batch.forEach(([k, v], j) => {
            if (got[j] !== v) bad.push(`${a.agent.name}:${k}:${got[j] ?? '(nothing)'}`);
          });
        }
      }
      return bad;
    };
    let missing: string[] = [];
    await poll(async () => (missing = await unreadable()).length === 0, 'every acknowledged write readable from every agent', 90_000).catch(() => undefined);
    expect(missing.slice(0, 10)).toEqual([]);
  }, 300_000);

  it('TTL expiry, and bad keys, huge values and bad bodies get errors, not crashes', async () => {
    const a = nodes[0]!;
    expect((await put(a, 'short-lived', 'v', '?ttl=1500')).status).toBe(204);
    const first = await get(a, 'short-lived');
    expect(first.status).toBe(200);
    expect(first.headers['x-expires-at']).toMatch(/^\d{4}-/);
    await poll(async () => (await get(nodes[1]!, 'short-lived')).status === 404, 'the key to expire', 20_000);

    expect((await fetch(`http://${a.http}/v1/kv/%ZZ`)).status).toBe(400);
    expect((await fetch(`http://${a.http}/v1/kv/`, { method: 'PUT', body: 'v' })).status).toBe(400);
    expect((await fetch(`http://${a.http}/v1/kv/${'k'.repeat(2000)}`, { method: 'PUT', body: 'v' })).status).toBe(400);
    expect((await put(a, 'k', 'v', '?ttl=-5')).status).toBe(400);
    expect((await put(a, 'k', 'v', '?w=9')).status).toBe(400);
    expect((await fetch(`http://${a.http}/v1/kv/k`, { method: 'POST', body: 'v' })).status).toBe(405);
    const huge = await put(a, 'huge', 'x'.repeat(1024 * 1024 + 1)).catch(() => undefined);
    expect(huge === undefined || huge.status === 413).toBe(true);
    // A body that stops short of its declared length, then the connection closes.
    const port = Number(a.http.split(':').pop());
    await rawResp(port, 'PUT /v1/kv/partial HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort');
    // Still serving.
    expect((await put(a, 'after', 'ok')).status).toBe(204);
    expect(await (await get(a, 'after')).text()).toBe('ok');
  });

  it('malformed RESP gets an error and the connection closes; the agent keeps serving', async () => {
    const port = nodes[0]!.resp;
    expect(await rawResp(port, '*abc\r\n')).toMatch(/^-ERR Protocol error/);
    expect(await rawResp(port, '*1\r\n$999999999\r\n')).toMatch(/^-ERR Protocol error: bulk of/);
    expect(await rawResp(port, '*99999999\r\n')).toMatch(/^-ERR Protocol error: too many arguments/);
    expect(await rawResp(port, '*1\r\n$3\r\nGETxx')).toMatch(/^-ERR Protocol error/);
    expect(await rawResp(port, Buffer.alloc(70_000, 0x41))).toMatch(/^-ERR Protocol error: inline/);
    expect(await rawResp(port, 'PING\r\nNOSUCH a b\r\nGET\r\n')).toMatch(/^\+PONG\r\n-ERR unknown command 'NOSUCH'.*\r\n-ERR wrong number of arguments for 'get'/);
    expect(await rawResp(port, '*1\r\n$4\r\nPING\r\n')).toBe('+PONG\r\n');
    // Pipelined: a reply ready at once (PING) waits behind one still awaited (SET), order kept.
    // (Pipelined commands run concurrently, so the GET reads a key written before, not the SET's.)
    const cmd = (...a: string[]): string => `*${a.length}\r\n${a.map((x) => `$${x.length}\r\n${x}\r\n`).join('')}`;
    expect(await rawResp(port, cmd('SET', 'piped', 'v1') + cmd('QUIT'))).toBe('+OK\r\n+OK\r\n');
    expect(await rawResp(port, cmd('SET', 'piped2', 'v2') + cmd('PING') + cmd('GET', 'piped') + cmd('GET', 'piped-none') + cmd('QUIT'))).toBe('+OK\r\n+PONG\r\n$2\r\nv1\r\n$-1\r\n+OK\r\n');
  });

  it('redis-cli drives the RESP port', async () => {
    const a = nodes[0]!.resp;
    const b = nodes[1]!.resp;
    expect(redisCli(a, 'PING')).toBe('PONG');
    expect(redisCli(a, 'SET', 'greeting', 'hello')).toBe('OK');
    expect(redisCli(b, 'GET', 'greeting')).toBe('hello');
    expect(redisCli(b, 'SET', 'greeting', 'again', 'NX')).toBe('');
    expect(redisCli(b, 'SET', 'greeting', 'again', 'XX')).toBe('OK');
    expect(redisCli(a, 'GET', 'greeting')).toBe('again');
    expect(redisCli(a, 'SET', 'nx-new', '1', 'NX')).toBe('OK');
    expect(redisCli(a, 'DEL', 'nx-new', 'greeting', 'never')).toBe('2');
    expect(redisCli(b, 'EXISTS', 'greeting', 'nx-new')).toBe('0');
    expect(redisCli(a, 'MSET', 'm1', 'a', 'm2', 'b')).toBe('OK');
    expect(redisCli(b, 'MGET', 'm1', 'm3', 'm2').split('\n')).toEqual(['a', '', 'b']);
    expect(redisCli(a, 'INCR', 'counter')).toBe('1');
    expect(redisCli(b, 'INCR', 'counter')).toBe('2');
    expect(redisCli(a, 'INCR', 'm1')).toMatch(/not an integer/);
    expect(redisCli(a, 'TTL', 'm1')).toBe('-1');
    expect(redisCli(a, 'TTL', 'none')).toBe('-2');
    expect(redisCli(a, 'EXPIRE', 'm1', '100')).toBe('1');
    expect(Number(redisCli(b, 'TTL', 'm1'))).toBeGreaterThan(90);
    expect(Number(redisCli(b, 'PTTL', 'm1'))).toBeGreaterThan(90_000);
    expect(redisCli(a, 'PEXPIRE', 'm2', '300')).toBe('1');
    expect(redisCli(a, 'SET', 'px', 'v', 'PX', '300')).toBe('OK');
    await poll(async () => redisCli(b, 'EXISTS', 'm2', 'px') === '0', 'PEXPIRE and PX to expire', 20_000);
    expect(redisCli(a, 'HGETALL', 'x')).toMatch(/ERR unknown command/);
    expect(redisCli(a, 'INFO')).toMatch(/kv_members:6/);
  });
});
