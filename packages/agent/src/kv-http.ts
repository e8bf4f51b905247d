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
          if (!body) {
            res.setHeader('Connection', 'close');
            return json(res, 413, { error: `value over maxValueBytes (${kv.options.maxValueBytes})`, code: 'ERR_VALUE_TOO_LARGE' });
          }
          return kv.set(key, body, { ...(ttl !== undefined ? { ttl } : {}), ...(w !== undefined ? { w } : {}) }).then(() => {
            res.writeHead(204, { 'Cache-Control': 'no-store' });
            res.end();
          });
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

/** The body, or undefined once it passes `max` bytes (the rest is not read). */
function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      req.resume();
      return resolve(undefined);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(new Uint8Array(Buffer.concat(chunks)));
    });
    req.on('error', reject);
  });
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

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(`${JSON.stringify(value)}\n`, 'utf8');
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.byteLength, 'Cache-Control': 'no-store' });
  res.end(body);
}
