/** The dashboard's routes in-process: its assets, GET /v1/stats, and their errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '@grapevine/node';
import { createKv, type Kv } from '@grapevine/kv';
import { startHttpApi, type HttpApi } from '../src/http-api.js';
import { httpCall } from './http-call.js';
import { dashboardRoutes, STATS_MAX_SUSPICIONS, type DashboardRoutes } from '../src/stats-route.js';

const call = (api: HttpApi, method: string, path: string, headers: Record<string, string> = {}) => httpCall(api.port, method, path, { headers });

const FAST = { profile: 'fast', probeInterval: 250, probeTimeout: 100 } as const;

describe('dashboard routes', () => {
  let a: Cluster;
  let b: Cluster;
  let kvA: Kv<Uint8Array>;
  let kvB: Kv<Uint8Array>;
  let dashA: DashboardRoutes;
  let dashB: DashboardRoutes;
  let api: HttpApi;

  beforeAll(async () => {
    a = await createCluster({ name: 'a', bind: '127.0.0.1:0', ...FAST });
    b = await createCluster({ name: 'b', bind: '127.0.0.1:0', ...FAST, seeds: [a.localNode.address] });
    [kvA, kvB] = await Promise.all([createKv<Uint8Array>(a as Cluster<unknown>, { replicas: 2, writeQuorum: 1 }), createKv<Uint8Array>(b as Cluster<unknown>, { replicas: 2, writeQuorum: 1 })]);
    dashA = dashboardRoutes(a);
    dashA.attachKv(kvA);
    dashB = dashboardRoutes(b); // b answers a's key-count requests
    dashB.attachKv(kvB);
    api = await startHttpApi(a, { bind: '127.0.0.1:0', routes: dashA.routes });
  });

  afterAll(async () => {
    dashA.close();
    dashB.close();
    kvA.close();
    kvB.close();
    await api.close();
    await Promise.all([a.close(), b.close()]);
  });

  it('serves the page and its assets (uPlot from the installed package) with ETags', async () => {
    const page = await call(api, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<title>Grapevine · a<\/title>/);
    const uplot = await call(api, 'GET', '/dashboard/uplot.js');
    expect(uplot.status).toBe(200);
    expect(uplot.headers['content-type']).toMatch(/javascript/);
    expect(uplot.body).toMatch(/uPlot/);
    const etag = String(uplot.headers.etag);
    expect((await call(api, 'GET', '/dashboard/uplot.js', { 'If-None-Match': etag })).status).toBe(304);
    expect((await call(api, 'GET', '/dashboard/uplot.css')).headers['content-type']).toMatch(/text\/css/);
    expect((await call(api, 'GET', '/dashboard/client.js')).body).toMatch(/requestAnimationFrame/);
    expect((await call(api, 'GET', '/dashboard/nope.js')).status).toBe(404);
    expect((await call(api, 'POST', '/dashboard/client.js')).status).toBe(405);
  });

  it('GET /v1/stats reports health, traffic, kv keys per node and ring ownership', async () => {
    await kvA.set('k1', new TextEncoder().encode('v'));
    const first = JSON.parse((await call(api, 'GET', '/v1/stats')).body);
    expect(first.node).toBe('a');
    expect(first.counts.alive).toBe(2);
    expect(first.health).toEqual({ awareness: 0, awarenessMax: a.config.awarenessMaxMultiplier - 1, suspicions: [], suspicionsTotal: 0 });
    expect(first.traffic.packetsSent).toBeGreaterThan(0);
    expect(first.kv.entries).toBe(1);
    expect(first.kv.ownership.map((o: { node: string }) => o.node).sort()).toEqual(['a', 'b']);
    for (const o of first.kv.ownership) expect(o.partitions).toBe(first.kv.partitions); // 2 replicas, 2 members
    // b's count arrives from b's own answer to a's request, a moment after the first poll.
    const deadline = Date.now() + 5000;
    let stats = first;
    while (stats.kv.keysByNode.b === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2100));
      stats = JSON.parse((await call(api, 'GET', '/v1/stats')).body);
    }
    expect(stats.kv.keysByNode).toEqual({ a: { entries: 1, bytes: expect.any(Number) }, b: { entries: 1, bytes: expect.any(Number) } });
    expect(STATS_MAX_SUSPICIONS).toBeGreaterThan(0);
  }, 15_000);

  it('refuses other methods, and answers 503 before the node runs', async () => {
    const put = await call(api, 'PUT', '/v1/stats');
    expect(put.status).toBe(405);
    expect(JSON.parse(put.body).code).toBe('ERR_METHOD');
    const never = new Promise<Cluster>(() => undefined);
    const early = dashboardRoutes(never);
    const api2 = await startHttpApi(never, { bind: '127.0.0.1:0', routes: early.routes });
    try {
      const r = await call(api2, 'GET', '/v1/stats');
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body).code).toBe('ERR_NOT_STARTED');
    } finally {
      await api2.close();
    }
  });
});
