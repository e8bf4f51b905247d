/**
 * The dashboard's files are read on the first page view, not when the agent starts: an agent
 * whose dashboard nobody opens never touches them. readFileSync is wrapped (still reading the real
 * files) so the test sees when the route reads them.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Cluster } from '@grapevine/core';

const reads = vi.hoisted(() => [] as string[]);
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((path: unknown, ...rest: unknown[]) => {
    reads.push(String(path));
    return (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readFileSync;
  return { ...fs, readFileSync, default: { ...fs, readFileSync } };
});

const { startHttpApi } = await import('../src/http-api.js');
const { dashboardRoutes } = await import('../src/stats-route.js');
const { httpCall } = await import('./http-call.js');

const assetReads = (): string[] => reads.filter((p) => /uPlot|client\.js/.test(p));

describe('dashboard assets', () => {
  const never = new Promise<Cluster>(() => undefined);
  const dash = dashboardRoutes(never);
  let api: Awaited<ReturnType<typeof startHttpApi>> | undefined;
  afterAll(async () => {
    dash.close();
    await api?.close();
  });

  it('are read on the first request for them, once, and not when the routes are made', async () => {
    api = await startHttpApi(never, { bind: '127.0.0.1:0', routes: dash.routes, processMetrics: false });
    expect(assetReads()).toEqual([]);
    // A method the page never uses is refused without reading anything.
    expect((await httpCall(api.port, 'POST', '/dashboard/uplot.js')).status).toBe(405);
    expect(assetReads()).toEqual([]);
    const first = await httpCall(api.port, 'GET', '/dashboard/uplot.js');
    expect(first.status).toBe(200);
    expect(assetReads()).toHaveLength(3); // uPlot's script and stylesheet, the page's script
    expect((await httpCall(api.port, 'GET', '/dashboard/client.js')).body).toMatch(/requestAnimationFrame/);
    expect((await httpCall(api.port, 'GET', '/dashboard/uplot.css')).status).toBe(200);
    expect(assetReads()).toHaveLength(3);
  });
});
