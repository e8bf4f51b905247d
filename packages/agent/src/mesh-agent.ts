/**
 * `grapevine agent --mesh`: the invalidation bus over HTTP, so services in any language use it.
 *   POST /v1/mesh/publish    {"key": "...", "value"?: any}, {"events": [...]} or a JSON array of those
 *                            → 202 {"published": n}
 *   GET  /v1/mesh/subscribe  ?key=K or ?prefix=P → server-sent events, one `data:` JSON line per
 *                            bus event (invalidate, gap, overflow)
 *   GET  /metrics            (the shared route) first folds the bus counters into the cluster's
 *                            metrics, so they appear as grapevine_mesh_*
 * Every bad body or query gets a JSON 400 {"error": message, "code": ...}; nothing from a client
 * can throw out of a handler. A client that reads its event stream too slowly has events dropped
 * (counted) and then gets one `overflow` event, as an in-process subscriber would.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cluster, Logger } from '@grapevine/core';
import { createMesh, type MeshBus, type MeshEvent, type MeshOptions } from '@grapevine/mesh';
import type { HttpRoute } from './http-api.js';
import { HttpError, readBody, sendJson } from './http-common.js';

/** Bytes of one publish body at most. */
export const MESH_MAX_BODY_BYTES = 1024 * 1024;
/** Events in one publish body at most. */
export const MESH_MAX_BATCH = 1000;
/** Bytes an event-stream client may have unread before its events are dropped. */
export const MESH_STREAM_BUFFER_BYTES = 1024 * 1024;
const HEARTBEAT_MS = 15_000;

export interface MeshAgent {
  /** Serves /v1/mesh/*; sees /metrics first. */
  readonly route: HttpRoute;
  /** The bus, once the cluster is up. */
  readonly bus: MeshBus | undefined;
  close(): Promise<void>;
}

export function startMeshAgent(starting: Promise<Cluster>, opts: { logger: Logger; mesh?: MeshOptions }): MeshAgent {
  let bus: MeshBus | undefined;
  let closed = false;
  const streams = new Set<ServerResponse>();
  starting.then(
    (c) => {
      if (closed) return;
      bus = createMesh(c, opts.mesh);
    },
    () => undefined,
  );

  const publish = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const b = bus;
    if (!b) return sendJson(res, 503, { error: 'the node is starting', code: 'ERR_NOT_STARTED' });
    let events: { key: string; value?: unknown; hasValue: boolean }[];
    let done = 0;
    try {
      events = parsePublishBody(await readText(req));
      for (const e of events) {
        b.publish(e.key, e.hasValue ? { value: e.value } : undefined);
        done++;
      }
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message, code: err.code });
      const code = (err as { code?: unknown }).code;
      // A refused event (too large, bad key): the ones before it were published, and say so.
      if (typeof code === 'string') return sendJson(res, code === 'ERR_CLOSED' ? 503 : 400, { error: `event ${done}: ${(err as Error).message}`, code, published: done });
      throw err;
    }
    sendJson(res, 202, { published: events.length });
  };

  const subscribe = (url: URL, res: ServerResponse): void => {
    const b = bus;
    if (!b) return sendJson(res, 503, { error: 'the node is starting', code: 'ERR_NOT_STARTED' });
    const key = url.searchParams.get('key');
    const prefix = url.searchParams.get('prefix');
    if ((key === null) === (prefix === null)) return sendJson(res, 400, { error: 'give exactly one of ?key= or ?prefix=', code: 'ERR_BAD_QUERY' });
    if (key === '') return sendJson(res, 400, { error: 'key must not be empty', code: 'ERR_BAD_QUERY' });
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(': grapevine mesh\n\n');
    streams.add(res);
    let dropped = 0;
    const write = (e: MeshEvent): void => {
      if (res.writableLength > MESH_STREAM_BUFFER_BYTES) {
        dropped++;
        b.cluster.metrics.increment('grapevine.mesh.http-stream-dropped');
        return;
      }
      if (dropped > 0) {
        res.write(`data: ${JSON.stringify({ type: 'overflow', dropped })}\n\n`);
        dropped = 0;
      }
      res.write(`data: ${JSON.stringify(e)}\n\n`);
    };
    let sub: ReturnType<MeshBus['subscribe']>;
    try {
      sub = b.subscribe(key !== null ? key : { prefix: prefix! }, write);
    } catch (err) {
      res.end();
      streams.delete(res);
      opts.logger.warn({ err }, 'mesh subscribe failed');
      return;
    }
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const cleanup = (): void => {
      sub.unsubscribe();
      clearInterval(heartbeat);
      streams.delete(res);
    };
    res.on('close', cleanup);
    res.on('error', cleanup);
  };

  const route: HttpRoute = (req, res, url) => {
    const path = url.pathname;
    if (path === '/metrics') {
      bus?.syncMetrics();
      return false;
    }
    if (path === '/v1/mesh/publish') {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      publish(req, res).catch((err: unknown) => {
        opts.logger.error({ err }, 'mesh publish failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error', code: 'ERR_INTERNAL' });
      });
      return true;
    }
    if (path === '/v1/mesh/subscribe') {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      subscribe(url, res);
      return true;
    }
    return false;
  };

  return {
    route,
    get bus() {
      return bus;
    },
    async close() {
      closed = true;
      for (const res of [...streams]) res.end();
      await bus?.close();
    },
  };
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  res.setHeader('Allow', allow);
  sendJson(res, 405, { error: 'method not allowed', code: 'ERR_METHOD' });
  return true;
}

/** The body as text, through the API's bounded reader; its refusals keep the bus's own codes. */
async function readText(req: IncomingMessage): Promise<string> {
  try {
    return (await readBody(req, MESH_MAX_BODY_BYTES)).toString('utf8');
  } catch (err) {
    if (err instanceof HttpError && err.status === 413) throw new HttpError(413, 'ERR_TOO_LARGE', `body over ${MESH_MAX_BODY_BYTES} bytes`);
    throw new HttpError(400, 'ERR_BAD_BODY', 'the request body could not be read');
  }
}

/** `{key, value?}`, `{events: [...]}` or `[...]` → checked events; everything else a HttpError. */
export function parsePublishBody(text: string): { key: string; value?: unknown; hasValue: boolean }[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'ERR_BAD_BODY', 'the body is not JSON');
  }
  const list: unknown[] = Array.isArray(body)
    ? body
    : body !== null && typeof body === 'object' && 'events' in body
      ? (Array.isArray((body as { events: unknown }).events) ? (body as { events: unknown[] }).events : (() => { throw new HttpError(400, 'ERR_BAD_BODY', '"events" must be an array'); })())
      : [body];
  if (list.length === 0) throw new HttpError(400, 'ERR_BAD_BODY', 'no events');
  if (list.length > MESH_MAX_BATCH) throw new HttpError(400, 'ERR_LIMIT', `at most ${MESH_MAX_BATCH} events per request`);
  return list.map((e, i) => {
    if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new HttpError(400, 'ERR_BAD_BODY', `event ${i}: expected an object {"key": ..., "value"?: ...}`);
    const o = e as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'key' && k !== 'value') throw new HttpError(400, 'ERR_BAD_BODY', `event ${i}: unknown field "${k}"`);
    if (typeof o.key !== 'string' || o.key.length === 0) throw new HttpError(400, 'ERR_BAD_BODY', `event ${i}: "key" must be a non-empty string`);
    return 'value' in o ? { key: o.key, value: o.value, hasValue: true } : { key: o.key, hasValue: false };
  });
}
