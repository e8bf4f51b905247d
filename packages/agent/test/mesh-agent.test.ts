/**
 * `grapevine agent --mesh` between three real agent processes on loopback: HTTP publish on one,
 * server-sent events on the others, batches, bad bodies and queries (JSON 400 with a code), and
 * the bus counters on /metrics.
 */
import { describe, expect, it } from 'vitest';
import { request, get, type IncomingMessage } from 'node:http';
import { agentFixture, httpGet } from './cli-harness.js';

function post(url: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An SSE client: collects parsed `data:` events. */
function sse(url: string): Promise<{ events: Record<string, unknown>[]; close(): void; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const events: Record<string, unknown>[] = [];
    const req = get(url, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of block.split('\n')) if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)) as Record<string, unknown>);
        }
      });
      res.on('error', () => undefined);
      resolve({ events, res, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('grapevine agent --mesh', () => {
  const { agents, startAgent, sees } = agentFixture('grapevine-mesh-');

  it('publishes over HTTP on one agent and streams the invalidations on the others', async () => {
    const a = startAgent('ma', ['--mesh', '--http', '127.0.0.1:0']);
    const seed = await a.waitReady();
    const b = startAgent('mb', ['--mesh', '--http', '127.0.0.1:0', '--join', seed.addr]);
    const c = startAgent('mc', ['--mesh', '--http', '127.0.0.1:0', '--join', seed.addr]);
    await Promise.all(agents.map((x) => x.waitReady()));
    await sees([b, c], 'ma');
    await sees([a, c], 'mb');
    await sees([a, b], 'mc');
    const http = (x: typeof a): string => `http://${x.ready!.http!}`;
    const onB = await sse(`${http(b)}/v1/mesh/subscribe?prefix=user:`);
    const onC = await sse(`${http(c)}/v1/mesh/subscribe?key=user:1`);
    try {
      expect(onB.res.headers['content-type']).toMatch(/text\/event-stream/);
      expect(await post(`${http(a)}/v1/mesh/publish`, JSON.stringify({ key: 'user:1', value: { name: 'Ada' } }))).toEqual({ status: 202, json: { published: 1 } });
      expect(await post(`${http(a)}/v1/mesh/publish`, JSON.stringify({ events: [{ key: 'user:2' }, { key: 'order:9' }] }))).toEqual({ status: 202, json: { published: 2 } });
      expect(await post(`${http(a)}/v1/mesh/publish`, JSON.stringify([{ key: 'user:3' }]))).toEqual({ status: 202, json: { published: 1 } });
      await until(() => onB.events.length >= 3 && onC.events.length >= 1, 'the events on both streams');
      expect(onB.events.map((e) => e.key).sort()).toEqual(['user:1', 'user:2', 'user:3']);
      expect(onC.events).toEqual([expect.objectContaining({ type: 'invalidate', key: 'user:1', value: { name: 'Ada' }, hasValue: true, origin: 'ma' })]);

      // Bad bodies and queries: JSON 400 with a code; the agent keeps serving.
      const bad = async (body: string, code: string, status = 400): Promise<void> => {
        const r = await post(`${http(a)}/v1/mesh/publish`, body);
        expect(r.status, body).toBe(status);
        expect(r.json.code, body).toBe(code);
      };
      await bad('not json', 'ERR_BAD_BODY');
      await bad('{"value":1}', 'ERR_BAD_BODY');
      await bad('{"key":""}', 'ERR_BAD_BODY');
      await bad('{"key":"k","extra":1}', 'ERR_BAD_BODY');
      await bad('{"events":"x"}', 'ERR_BAD_BODY');
      await bad('[]', 'ERR_BAD_BODY');
      await bad(JSON.stringify({ events: Array.from({ length: 1001 }, (_, i) => ({ key: `k${i}` })) }), 'ERR_LIMIT');
      await bad(JSON.stringify({ key: 'x'.repeat(600) }), 'ERR_TOO_LARGE');
      await bad(JSON.stringify({ key: 'k', value: 'v'.repeat(2_000_000) }), 'ERR_TOO_LARGE', 413);
      const q = await httpGet(`${http(b)}/v1/mesh/subscribe?key=a&prefix=b`);
      expect(q.status).toBe(400);
      expect(JSON.parse(q.body).code).toBe('ERR_BAD_QUERY');
      const m = await httpGet(`${http(b)}/v1/mesh/publish`);
      expect(m.status).toBe(405);

      // The bus counters on /metrics.
      const metrics = await httpGet(`${http(a)}/metrics`);
      expect(metrics.body).toMatch(/^grapevine_mesh_published(_total)? 4$/m);
      const mb = await httpGet(`${http(b)}/metrics`);
      expect(mb.body).toMatch(/^grapevine_mesh_delivered(_total)? [1-9]/m);
      expect(a.stderr).not.toMatch(/"level":(50|60)/);
    } finally {
      onB.close();
      onC.close();
    }
  });
});
