/**
 * The dashboard's HTTP route: GET / (the page) and its static assets under /dashboard/. uPlot's
 * script and stylesheet are read from the installed `uplot` package, and the page's own script
 * (client.js, shipped in the package's src/) from beside this module's source, once, when the
 * route is made: nothing is fetched from the network, and a broken install fails at start, not
 * on the first page view. Assets carry an ETag, so a reload costs 304s.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import type { Cluster } from '@grapevine/core';
import type { HttpRoute } from '../http-api.js';
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

/** The files, read once per process. */
export function dashboardAssets(): Map<string, Asset> {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`dashboard: cannot read ${what} (${path}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  };
  const uplotDir = require.resolve('uplot/dist/uPlot.iife.min.js').replace(/uPlot\.iife\.min\.js$/, '');
  // dist/dashboard/assets.js and src/dashboard/assets.ts both sit two levels below the package.
  const client = new URL('../../src/dashboard/client.js', import.meta.url);
  cached = new Map([
    ['/dashboard/uplot.js', asset('text/javascript; charset=utf-8', read('uPlot', `${uplotDir}uPlot.iife.min.js`))],
    ['/dashboard/uplot.css', asset('text/css; charset=utf-8', read('uPlot', `${uplotDir}uPlot.min.css`))],
    ['/dashboard/client.js', asset('text/javascript; charset=utf-8', read('the dashboard script', client.pathname))],
  ]);
  return cached;
}

export function dashboardRoute(cluster: () => Cluster | undefined): HttpRoute {
  const assets = dashboardAssets();
  return (req, res, url) => {
    const path = url.pathname;
    const a = assets.get(path);
    if (path !== '/' && !a) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'application/json; charset=utf-8', Buffer.from(`${JSON.stringify({ error: 'method not allowed', code: 'ERR_METHOD' })}\n`), req.method === 'HEAD');
      return true;
    }
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
