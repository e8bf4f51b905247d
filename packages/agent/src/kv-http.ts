/**
 * The KV's HTTP routes for the agent (with --kv):
 *   PUT    /v1/kv/{key}[?ttl=MS][&w=N]   the request body is the value; 204 once W owners have it
 *   GET    /v1/kv/{key}[?r=N]            200 with the value's bytes (application/octet-stream), 404 if absent
 *   DELETE /v1/kv/{key}[?w=N]            200 {"deleted": true|false}
 * The key is the URL-decoded rest of the path. Errors are JSON {error, code}: 400 for a bad key or
 * query, 413 for a body over maxValueBytes (not read past the limit), 503 ERR_QUORUM (with
 * `answered` and `required`) or while the KV starts, 507 ERR_KV_FULL.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kv } from '@grapevine/kv';
import type { HttpRoute } from './http-api.js';
import { HttpError, readBody, sendJson as json } from './http-common.js';

const PREFIX = '/v1/kv/';

export function kvHttpRoute(getKv: () => Kv<Uint8Array> | undefined): HttpRoute {
  return (req, res, url) => {
    if (!url.pathname.startsWith(PREFIX)) return false;
    const kv = getKv();
    if (!kv) {
      json(res, 503, { error: 'the key-value store is starting', code: 'ERR_NOT_STARTED' });
      return true;
    }
    let key: string;
    try {
      key = decodeURIComponent(url.pathname.slice(PREFIX.length));
    } catch {
      json(res, 400, { error: 'the key is not valid percent-encoding', code: 'ERR_KEY' });
      return true;
    }
    const num = (name: string): number | undefined | null => {
      const v = url.searchParams.get(name);
      if (v === null) return undefined;
      return /^\d{1,15}$/.test(v) ? Number(v) : null;
    };
    const ttl = num('ttl');
    const w = num('w');
    const r = num('r');
    if (ttl === null || w === null || r === null) {
      json(res, 400, { error: 'ttl, w and r must be non-negative integers', code: 'ERR_KV_ARGUMENT' });
      return true;
    }
    const fail = (err: unknown): void => failure(res, err);
    switch (req.method) {
      case 'GET':
      case 'HEAD':
        kv.getEntry(key, r !== undefined ? { r } : {}).then((e) => {
          if (!e) return json(res, 404, { error: 'not found', code: 'ERR_NOT_FOUND' });
          res.writeHead(200, {
            'Content-Type': 'application/octet-stream',
            'Content-Length': e.value.byteLength,
            'Cache-Control': 'no-store',
            ...(e.expiresAt ? { 'X-Expires-At': new Date(e.expiresAt).toISOString() } : {}),
          });
          res.end(req.method === 'HEAD' ? undefined : e.value);
        }, fail);
        return true;
      case 'PUT':
        readBody(req, kv.options.maxValueBytes).then((body) => {
          // A copy of its own: the store keeps it, and a Buffer may be a view into a shared pool.
          return kv.set(key, new Uint8Array(body), { ...(ttl !== undefined ? { ttl } : {}), ...(w !== undefined ? { w } : {}) }).then(() => {
            res.writeHead(204, { 'Cache-Control': 'no-store' });
            res.end();
          });
        }, (err: unknown) => {
          if (!(err instanceof HttpError) || err.status !== 413) throw err;
          res.setHeader('Connection', 'close');
          json(res, 413, { error: `value over maxValueBytes (${kv.options.maxValueBytes})`, code: 'ERR_VALUE_TOO_LARGE' });
        }).catch(fail);
        return true;
      case 'DELETE':
        kv.delete(key, w !== undefined ? { w } : {}).then((deleted) => json(res, 200, { deleted }), fail);
        return true;
      default:
        res.setHeader('Allow', 'GET, HEAD, PUT, DELETE');
        json(res, 405, { error: 'method not allowed', method: req.method ?? '' });
        return true;
    }
  };
}

function failure(res: ServerResponse, err: unknown): void {
  const e = err as { code?: string; message?: string; answered?: number; required?: number };
  const status = e?.code === 'ERR_QUORUM' ? 503 : e?.code === 'ERR_KEY' || e?.code === 'ERR_KV_ARGUMENT' ? 400 : e?.code === 'ERR_VALUE_TOO_LARGE' ? 413 : e?.code === 'ERR_KV_FULL' ? 507 : e?.code === 'ERR_CLOSED' || e?.code === 'ERR_KV_CLOSED' ? 503 : 500;
  if (res.headersSent) return void res.destroy();
  json(res, status, {
    error: e?.message ?? String(err),
    code: e?.code ?? 'ERR_INTERNAL',
    ...(e?.code === 'ERR_QUORUM' ? { answered: e.answered, required: e.required } : {}),
  });
}
