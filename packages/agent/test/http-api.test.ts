/** The HTTP API in-process, against two real nodes on loopback. */
import { connect } from 'node:net';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '@grapevine/node';
import { startHttpApi, type HttpApi } from '@grapevine/agent';
import { httpCall } from './http-call.js';

const call = (api: HttpApi, method: string, path: string) => httpCall(api.port, method, path);

const FAST = { profile: 'fast', probeInterval: 250, probeTimeout: 100 } as const;

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('HTTP API', () => {
  let a: Cluster;
  let b: Cluster | undefined;
  let api: HttpApi;

  beforeAll(async () => {
    a = await createCluster({ name: 'a', bind: '127.0.0.1:0', ...FAST, meta: { zone: 'z1' } });
    api = await startHttpApi(a, { bind: '127.0.0.1:0' });
  });

  afterAll(async () => {
    await api?.close();
    await Promise.all([a?.close(), b?.close()]);
  });

  it('lists members, filters by state, rejects an unknown state', async () => {
    const all = await call(api, 'GET', '/v1/members');
    expect(all.status).toBe(200);
    expect(JSON.parse(all.body)).toEqual([{ name: 'a', addr: a.localNode.address, state: 'alive', incarnation: 0, meta: { zone: 'z1' } }]);
    expect(JSON.parse((await call(api, 'GET', '/v1/members?state=dead,left')).body)).toEqual([]);
    const bad = await call(api, 'GET', '/v1/members?state=zombie');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/zombie/);
  });

  it('answers 404 JSON for unknown paths and 405 for other methods', async () => {
    const missing = await call(api, 'GET', '/v2/nothing');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(missing.body)).toMatchObject({ error: 'not found' });
    const post = await call(api, 'POST', '/v1/members');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await call(api, 'DELETE', '/metrics')).status).toBe(405);
  });

  it('serves the dashboard and Prometheus text', async () => {
    const page = await call(api, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    // No external assets: every script and stylesheet is the agent's own (same origin) or inline.
    const refs = [...page.body.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(ref).toMatch(/^(\/[^/]|data:)/);
    const metrics = await call(api, 'GET', '/metrics');
    expect(metrics.body).toMatch(/^grapevine_members\{state="alive"\} 1$/m);
    expect(metrics.body).toMatch(/^# TYPE grapevine_transport_packets_sent counter$/m);
    // prom-client's process metrics, registered collector by collector (process-metrics.ts): one
    // family of each, so a prom-client whose modules moved fails here; its event-loop-lag gauges
    // are left out (grapevine_event_loop_delay_seconds carries the same, cheaper).
    for (const family of ['process_cpu_seconds_total', 'process_start_time_seconds', 'process_resident_memory_bytes', 'process_open_fds', 'process_max_fds', 'nodejs_active_resources', 'nodejs_active_handles', 'nodejs_active_requests', 'nodejs_heap_size_used_bytes', 'nodejs_heap_space_size_used_bytes', 'nodejs_version_info', 'nodejs_gc_duration_seconds', 'grapevine_event_loop_delay_seconds']) {
      expect(metrics.body).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
    }
    expect(metrics.body).not.toMatch(/^nodejs_eventloop_lag/m);
    for (const line of metrics.body.trim().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+]+|[a-zA-Z_:][a-zA-Z0-9_:]* [+-]Inf|NaN)$/);
    }
  });

  it('survives a malformed request', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect(api.port, '127.0.0.1', () => s.write('NONSENSE \x00\x01 garbage\r\n\r\n'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await call(api, 'GET', '/v1/members')).status).toBe(200);
  });

  it('streams member events over SSE and forgets a client that disconnects', async () => {
    const lines: string[] = [];
    const req = request({ host: '127.0.0.1', port: api.port, path: '/v1/events' });
    const opened = new Promise<void>((resolve) => {
      req.on('response', (res) => {
        expect(res.headers['content-type']).toMatch(/text\/event-stream/);
        res.setEncoding('utf8');
        res.on('data', (d: string) => lines.push(...d.split('\n')));
        res.on('error', () => undefined);
        resolve();
      });
    });
    req.on('error', () => undefined);
    req.end();
    await opened;
    await until(() => api.openStreams === 1, 'the stream to register');
    b = await createCluster({ name: 'b', bind: '127.0.0.1:0', ...FAST, seeds: [a.localNode.address], meta: { zone: 'z2' } });
    await until(() => lines.some((l) => l.startsWith('data: ') && l.includes('"name":"b"')), 'an event about b');
    const ev = JSON.parse(lines.find((l) => l.startsWith('data: ') && l.includes('"name":"b"'))!.slice(6));
    expect(ev).toMatchObject({ event: 'state', name: 'b', addr: b.localNode.address, state: 'alive', incarnation: 0 });
    expect(Number.isNaN(Date.parse(ev.at))).toBe(false);
    b.updateMeta({ zone: 'z3' });
    await until(() => lines.some((l) => l.includes('"event":"updated"') && l.includes('"z3"')), 'the metadata update');
    req.destroy();
    await until(() => api.openStreams === 0, 'the server to drop the closed stream');
  });
});
