/**
 * The agent's HTTP API against real agent processes (the built CLI): the bearer token, bad and
 * oversized bodies, unknown routes and methods, member filters, meta PUT/DELETE seen by the other
 * agent, broadcast and send received over GET /v1/messages, resumable /v1/events with
 * Last-Event-ID, the SSE client cap, the per-IP rate limit, and the client commands.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, agentFixture, run, type Agent } from './cli-harness.js';
import { httpCall, type CallOptions, type Reply } from './http-call.js';

const TOKEN = 'T0ken-for-the-http-api';

const call = (http: string, method: string, path: string, opts: CallOptions & { token?: string } = {}): Promise<Reply> =>
  httpCall(http, method, path, { ...opts, headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers } });

/** An open SSE stream: its messages as they arrive ({id, event, data}). */
function stream(http: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; messages: { id?: string; event?: string; data: string }[]; close: () => void; body: () => string }> {
  const [host, port] = [http.slice(0, http.lastIndexOf(':')), Number(http.slice(http.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers, agent: false }, (res) => {
      const messages: { id?: string; event?: string; data: string }[] = [];
      let raw = '';
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        raw += d;
        buf += d;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const m: { id?: string; event?: string; data: string } = { data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) m.id = line.slice(4);
            else if (line.startsWith('event: ')) m.event = line.slice(7);
            else if (line.startsWith('data: ')) m.data += line.slice(6);
          }
          if (m.data !== '') messages.push(m);
        }
      });
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, messages, close: () => req.destroy(), body: () => raw });
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('agent HTTP API (real processes)', () => {
  const fx = agentFixture('gv-http-api-');
  let a: Agent;
  let b: Agent;
  let httpA = '';
  let httpB = '';
  let tokenFile = '';

  it('starts two agents: a with a token, b joined to it', async () => {
    tokenFile = join(fx.dir(), 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    a = fx.startAgent('a', ['--http', '127.0.0.1:0', '--http-token-file', tokenFile, '--http-max-body-bytes', '1024', '--http-max-event-clients', '3', '--http-replay-events', '4', '--meta', 'role=web']);
    httpA = (await a.waitReady()).http!;
    b = fx.startAgent('b', ['--http', '127.0.0.1:0', '--join', a.ready!.addr, '--meta', 'role=db']);
    httpB = (await b.waitReady()).http!;
    await fx.sees([a], 'b');
    await fx.sees([b], 'a');
  });

  it('the token: 401 without or with a wrong one, 200 with it, /healthz open', async () => {
    const none = await call(httpA, 'GET', '/v1/members');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(JSON.parse(none.body).code).toBe('ERR_UNAUTHORIZED');
    expect((await call(httpA, 'GET', '/v1/members', { token: `${TOKEN}x` })).status).toBe(401);
    expect((await call(httpA, 'GET', '/metrics', { token: 'short' })).status).toBe(401);
    expect((await call(httpA, 'GET', '/v1/members', { token: TOKEN })).status).toBe(200);
    const health = await call(httpA, 'GET', '/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    const metrics = await call(httpA, 'GET', '/metrics', { token: TOKEN });
    expect(metrics.body).toMatch(/^grapevine_http_unauthorized_total [3-9]\d*$/m);
  });

  it('the dashboard with a token: /?token= trades it for a cookie that opens GETs only', async () => {
    expect((await call(httpA, 'GET', `/?token=${TOKEN}x`)).status).toBe(401);
    const traded = await call(httpA, 'GET', `/?token=${encodeURIComponent(TOKEN)}`);
    expect(traded.status).toBe(303);
    expect(traded.headers.location).toBe('/');
    const cookie = String(traded.headers['set-cookie']?.[0] ?? '');
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const jar = { cookie: cookie.split(';')[0]! };
    expect((await call(httpA, 'GET', '/', { headers: jar })).status).toBe(200);
    expect((await call(httpA, 'GET', '/v1/members', { headers: jar })).status).toBe(200);
    expect((await call(httpA, 'GET', '/v1/members', { headers: { cookie: 'grapevine_token=wrong' } })).status).toBe(401);
    // A cookie never authorizes a change: a forged cross-site POST cannot use it.
    const post = await call(httpA, 'POST', '/v1/broadcast', { headers: jar, body: JSON.stringify({ type: 300, json: 1 }) });
    expect(post.status).toBe(401);
  });

  it('bad bodies, oversized requests, unknown routes and methods get JSON errors; the agent keeps serving', async () => {
    const t = { token: TOKEN };
    const err = async (r: Promise<Reply>): Promise<[number, string]> => {
      const x = await r;
      expect(x.headers['content-type']).toMatch(/application\/json/);
      return [x.status, JSON.parse(x.body).code];
    };
    expect(await err(call(httpA, 'POST', '/v1/broadcast', { ...t, body: '{"type":' }))).toEqual([400, 'ERR_BAD_JSON']);
    expect(await err(call(httpA, 'POST', '/v1/broadcast', { ...t, body: '[1,2]' }))).toEqual([400, 'ERR_BAD_JSON']);
    expect(await err(call(httpA, 'POST', '/v1/broadcast', { ...t, body: '{"type":300}' }))).toEqual([400, 'ERR_BAD_PAYLOAD']);
    expect(await err(call(httpA, 'POST', '/v1/broadcast', { ...t, body: '{"type":300,"json":1,"base64":"AA=="}' }))).toEqual([400, 'ERR_BAD_PAYLOAD']);
    expect(await err(call(httpA, 'POST', '/v1/broadcast', { ...t, body: '{"type":300,"base64":"not base64!"}' }))).toEqual([400, 'ERR_BAD_PAYLOAD']);
    expect(await err(call(httpA, 'POST', '/v1/broadcast', { ...t, body: '{"type":5,"json":1}' }))).toEqual([400, 'ERR_RESERVED_TYPE']);
    expect(await err(call(httpA, 'POST', '/v1/broadcast', { ...t, body: '{"type":"x","json":1}' }))).toEqual([400, 'ERR_BAD_TYPE']);
    expect(await err(call(httpA, 'POST', '/v1/send/nobody', { ...t, body: '{"type":300,"json":1}' }))).toEqual([404, 'ERR_UNKNOWN_NODE']);
    const big = JSON.stringify({ type: 300, json: 'x'.repeat(2000) });
    expect(await err(call(httpA, 'POST', '/v1/broadcast', { ...t, body: big }))).toEqual([413, 'ERR_BODY_TOO_LARGE']);
    expect(await err(call(httpA, 'POST', '/v1/broadcast', { ...t, body: big, chunked: true }))).toEqual([413, 'ERR_BODY_TOO_LARGE']);
    expect(await err(call(httpA, 'PUT', '/v1/meta/k', { ...t, body: 'v'.repeat(2000), chunked: true }))).toEqual([413, 'ERR_BODY_TOO_LARGE']);
    expect(await err(call(httpA, 'GET', '/v2/nothing', t))).toEqual([404, 'ERR_NOT_FOUND']);
    const wrong = await call(httpA, 'DELETE', '/v1/members', t);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, HEAD');
    expect(await err(call(httpA, 'GET', '/v1/broadcast', t))).toEqual([405, 'ERR_METHOD_NOT_ALLOWED']);
    expect(await err(call(httpA, 'GET', '/v1/members?state=zombie', t))).toEqual([400, 'ERR_BAD_FILTER']);
    expect(await err(call(httpA, 'GET', '/v1/members?meta=novalue', t))).toEqual([400, 'ERR_BAD_FILTER']);
    expect(await err(call(httpA, 'GET', '/v1/meta/%E0%A4%A', t))).toEqual([400, 'ERR_BAD_KEY']);
    expect(await err(call(httpA, 'GET', '/v1/events', { ...t, headers: { 'last-event-id': 'garbage' } }))).toEqual([400, 'ERR_BAD_LAST_EVENT_ID']);
    expect(await err(call(httpA, 'GET', '/v1/messages?type=12', t))).toEqual([400, 'ERR_RESERVED_TYPE']);
    expect((await call(httpA, 'GET', '/healthz')).status).toBe(200);
    expect(a.stderr).not.toMatch(/"level":(50|60)/);
  });

  it('filters members by state, name prefix and metadata; GET /v1/self', async () => {
    const names = async (q: string): Promise<string[]> => JSON.parse((await call(httpB, 'GET', `/v1/members${q}`)).body).map((m: { name: string }) => m.name);
    expect(await names('')).toEqual(['a', 'b']);
    expect(await names('?name=a')).toEqual(['a']);
    expect(await names('?meta=role=db')).toEqual(['b']);
    expect(await names('?state=alive&meta=role=web')).toEqual(['a']);
    expect(await names('?state=dead')).toEqual([]);
    const cmd = run(['members', '--http', httpB, '--meta', 'role=web', '--json']);
    expect(cmd.status).toBe(0);
    expect(JSON.parse(cmd.stdout).map((m: { name: string }) => m.name)).toEqual(['a']);
    const table = run(['members', '--http', httpA, '--token-file', tokenFile, '--name', 'b']);
    expect(table.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['NAME', 'b']);
    const self = JSON.parse((await call(httpB, 'GET', '/v1/self')).body);
    expect(self).toMatchObject({ name: 'b', state: 'alive', meta: { role: 'db' }, members: { alive: 2 } });
  });

  it('meta PUT and DELETE on b are seen by a', async () => {
    const put = await call(httpB, 'PUT', '/v1/meta/zone', { body: 'eu-1' });
    expect(put.status).toBe(200);
    await a.until(() => a.events.some((e) => e.event === 'updated' && e.name === 'b' && e.meta?.zone === 'eu-1'), 'the update on a');
    const seen = JSON.parse((await call(httpA, 'GET', '/v1/members?meta=zone=eu-1', { token: TOKEN })).body);
    expect(seen.map((m: { name: string }) => m.name)).toEqual(['b']);
    expect((await call(httpB, 'DELETE', '/v1/meta/zone')).status).toBe(200);
    expect((await call(httpB, 'DELETE', '/v1/meta/zone')).status).toBe(404);
    await a.until(() => a.events.some((e) => e.event === 'updated' && e.name === 'b' && e.meta?.zone === undefined && e.meta?.role === 'db'), 'the removal on a');
  });

  it('broadcast and send from a arrive on b\'s /v1/messages; the broadcast command too', async () => {
    const sub = await stream(httpB, '/v1/messages?type=300,301');
    try {
      expect(sub.status).toBe(200);
      const bc = await call(httpA, 'POST', '/v1/broadcast', { token: TOKEN, body: JSON.stringify({ type: 300, json: { hello: 'world' } }) });
      expect(bc.status).toBe(202);
      await until(() => sub.messages.some((m) => m.data.includes('"hello"')), 'the broadcast on b');
      expect(JSON.parse(sub.messages.find((m) => m.data.includes('"hello"'))!.data)).toEqual({ type: 300, from: 'a', broadcast: true, json: { hello: 'world' } });
      const sent = await call(httpA, 'POST', '/v1/send/b', { token: TOKEN, body: JSON.stringify({ type: 301, base64: Buffer.from([0, 1, 2, 255]).toString('base64'), reliable: true }) });
      expect(sent.status).toBe(202);
      await until(() => sub.messages.some((m) => m.data.includes('"base64"')), 'the direct message on b');
      expect(JSON.parse(sub.messages.find((m) => m.data.includes('"base64"'))!.data)).toEqual({ type: 301, from: 'a', broadcast: false, base64: 'AAEC/w==' });
      const cmd = run(['broadcast', '--http', httpA, '--token-file', tokenFile, '300', '{"via":"cli"}']);
      expect(cmd.status).toBe(0);
      expect(JSON.parse(cmd.stdout)).toMatchObject({ type: 300 });
      await until(() => sub.messages.some((m) => m.data.includes('"via":"cli"')), 'the command\'s broadcast on b');
      const noToken = run(['broadcast', '--http', httpA, '300', '{}']);
      expect(noToken.status).toBe(1);
      expect(noToken.stderr).toMatch(/401 ERR_UNAUTHORIZED/);
    } finally {
      sub.close();
    }
  });

  it('/v1/events resumes after Last-Event-ID, says when the id is too old, and caps clients', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const first = await stream(httpA, '/v1/events', auth);
    // Gossip coalesces quick updates of one member; wait for each so every one is an event on a.
    const put = async (n: string): Promise<void> => {
      await call(httpB, 'PUT', '/v1/meta/n', { body: n });
      await a.until(() => a.events.some((e) => e.event === 'updated' && e.meta?.n === n), `n=${n} on a`);
    };
    await put('1');
    await until(() => first.messages.length >= 1, 'the first event');
    const id1 = first.messages[0]!.id!;
    expect(id1).toMatch(/^[0-9a-f]{8}-\d+$/);
    first.close();
    await put('2');
    await put('3');
    const resumed = await stream(httpA, '/v1/events', { ...auth, 'last-event-id': id1 });
    await until(() => resumed.messages.length >= 2, 'the replay');
    expect(resumed.messages.map((m) => JSON.parse(m.data).meta.n)).toEqual(['2', '3']);
    resumed.close();
    for (const n of ['4', '5', '6', '7', '8']) await put(n);
    const old = await stream(httpA, '/v1/events', { ...auth, 'last-event-id': id1 });
    await until(() => old.messages.length >= 5, 'the reset and the ring');
    expect(old.messages[0]!.event).toBe('reset');
    expect(JSON.parse(old.messages[0]!.data)).toMatchObject({ event: 'reset', reason: 'too-old', replayed: 4, limit: 4 });
    expect(old.messages.slice(1, 5).map((m) => JSON.parse(m.data).meta.n)).toEqual(['5', '6', '7', '8']);
    const other = await stream(httpA, '/v1/events', { ...auth, 'last-event-id': '00000000-3' });
    await until(() => other.messages.length >= 1, 'the reset of another run');
    expect(JSON.parse(other.messages[0]!.data).reason).toBe('restarted');
    const third = await stream(httpA, '/v1/events', auth);
    // Cap 3: old, other and third are open; the next is refused.
    const refused = await call(httpA, 'GET', '/v1/events', { token: TOKEN });
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'ERR_TOO_MANY_STREAMS', limit: 3 });
    for (const s of [old, other, third]) s.close();
  });

  it('the per-IP rate limit answers 429 with Retry-After; kv get/set/del and events commands', async () => {
    const c = fx.startAgent('c', ['--http', '127.0.0.1:0', '--http-rate-limit', '1', '--http-rate-burst', '4', '--kv', '--kv-replicas', '1', '--kv-write-quorum', '1', '--kv-read-quorum', '1']);
    const httpC = (await c.waitReady()).http!;
    const statuses: number[] = [];
    let limited: Reply | undefined;
    for (let i = 0; i < 6; i++) {
      const r = await call(httpC, 'GET', '/healthz');
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(statuses.slice(4)).toContain(429);
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(limited!.body).code).toBe('ERR_RATE_LIMITED');

    // The kv commands against an agent without a limit (b has none; start one with --kv).
    const d = fx.startAgent('d', ['--http', '127.0.0.1:0', '--kv', '--kv-replicas', '1', '--kv-write-quorum', '1', '--kv-read-quorum', '1']);
    const httpD = (await d.waitReady()).http!;
    let set = run(['kv', 'set', '--http', httpD, 'greeting', 'hello there', '--ttl', '60000']);
    for (let i = 0; set.status !== 0 && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250)); // the KV may still be starting (503)
      set = run(['kv', 'set', '--http', httpD, 'greeting', 'hello there', '--ttl', '60000']);
    }
    expect(set.status).toBe(0);
    const got = run(['kv', 'get', '--http', httpD, 'greeting']);
    expect(got).toMatchObject({ status: 0, stdout: 'hello there' });
    expect(run(['kv', 'del', '--http', httpD, 'greeting']).status).toBe(0);
    expect(run(['kv', 'get', '--http', httpD, 'greeting'])).toMatchObject({ status: 1, stdout: '' });

    // grapevine events --json follows b and prints a's metadata change.
    const proc = spawn(process.execPath, [CLI, 'events', '--http', httpB, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (x: Buffer) => (out += x.toString()));
    try {
      for (let i = 0; i < 200 && !/^grapevine_http_event_clients 1$/m.test((await call(httpB, 'GET', '/metrics')).body); i++) await new Promise((r) => setTimeout(r, 100));
      await call(httpA, 'PUT', '/v1/meta/seen', { token: TOKEN, body: 'by-events' });
      await until(() => out.includes('"by-events"'), 'the events command to print the update');
      expect(JSON.parse(out.split('\n').find((l) => l.includes('by-events'))!)).toMatchObject({ event: 'updated', name: 'a' });
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('usage mistakes of the commands exit 2 with one line', () => {
    for (const args of [
      ['kv'],
      ['kv', 'set', '--http', '127.0.0.1:1', 'k'],
      ['broadcast', '--http', '127.0.0.1:1', '5', '{}'],
      ['broadcast', '--http', '127.0.0.1:1', '300', '{bad'],
      ['members', '--http', '127.0.0.1:1', '--state', 'zombie'],
      ['members', '--http', '127.0.0.1:1', '--token-file', '/nonexistent/token'],
    ]) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});
