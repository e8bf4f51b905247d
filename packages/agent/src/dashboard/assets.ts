/**
 * The dashboard's HTTP route: GET / (the page) and its static assets under /dashboard/. uPlot's
 * script and stylesheet are read from the installed `uplot` package, and the page's own script
 * (client.js, shipped in the package's src/) from beside this module's source, once per process,
 * on the first request for the page or an asset: an agent nobody opens the dashboard of (no
 * --http, or an API used only by scripts) never reads them. Nothing is fetched from the network.
 * A broken install (an asset missing) answers that request, and each later one until the files
 * are there, with a 500 `ERR_DASHBOARD_ASSETS` naming the file, which the API logs. Assets carry
 * an ETag, so a reload costs 304s.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import type { Cluster } from '@grapevine/core';
import type { HttpRoute } from '../http-api.js';
import { HttpError } from '../http-common.js';
import { dashboardHtml } from './page.js';

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

function asset(type: string, body: Buffer): Asset {
  return { type, body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
}

let cached: Map<string, Asset> | undefined;

/** The files, read once per process (a failed read is retried on the next call). */
export function dashboardAssets(): Map<string, Asset> {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new HttpError(500, 'ERR_DASHBOARD_ASSETS', `dashboard: cannot read ${what} (${path}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  let uplotDir: string;
  try {
    uplotDir = require.resolve('uplot/dist/uPlot.iife.min.js').replace(/uPlot\.iife\.min\.js$/, '');
  } catch (err) {
    throw new HttpError(500, 'ERR_DASHBOARD_ASSETS', `dashboard: cannot find the uplot package: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // dist/dashboard/assets.js and src/dashboard/assets.ts both sit two levels below the package.
  const client = new URL('../../src/dashboard/client.js', import.meta.url);
  cached = new Map([
    ['/dashboard/uplot.js', asset('text/javascript; charset=utf-8', read('uPlot', `${uplotDir}uPlot.iife.min.js`))],
    ['/dashboard/uplot.css', asset('text/css; charset=utf-8', read('uPlot', `${uplotDir}uPlot.min.css`))],
    ['/dashboard/client.js', asset('text/javascript; charset=utf-8', read('the dashboard script', client.pathname))],
  ]);
  return cached;
}

/** Paths the route answers: the page and the assets dashboardAssets() reads. */
const PATHS = new Set(['/', '/dashboard/uplot.js', '/dashboard/uplot.css', '/dashboard/client.js']);

export function dashboardRoute(cluster: () => Cluster | undefined): HttpRoute {
  return (req, res, url) => {
    const path = url.pathname;
    if (!PATHS.has(path)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'application/json; charset=utf-8', Buffer.from(`${JSON.stringify({ error: 'method not allowed', code: 'ERR_METHOD' })}\n`), req.method === 'HEAD');
      return true;
    }
    // Read on the first page view (the page asks for all three next); throws ERR_DASHBOARD_ASSETS.
    const a = dashboardAssets().get(path);
    if (a) {
      if (req.headers['if-none-match'] === a.etag) {
        res.writeHead(304, { ETag: a.etag, 'Cache-Control': 'no-cache' });
        res.end();
        return true;
      }
      res.setHeader('ETag', a.etag);
      res.setHeader('Cache-Control', 'no-cache');
      send(res, 200, a.type, a.body, req.method === 'HEAD');
      return true;
    }
    const c = cluster();
    if (!c) return false; // the built-in route answers 503 while the node starts
    send(res, 200, 'text/html; charset=utf-8', Buffer.from(dashboardHtml(c.name), 'utf8'), req.method === 'HEAD', 'no-store');
    return true;
  };
}

function send(res: ServerResponse, status: number, type: string, body: Buffer, head: boolean, cache?: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': body.byteLength, ...(cache ? { 'Cache-Control': cache } : {}) });
  res.end(head ? undefined : body);
}
