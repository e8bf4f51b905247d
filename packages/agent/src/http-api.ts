/**
 * The agent's HTTP API on node:http. Routes (the agent README lists them with their bodies and
 * error codes):
 *   GET /healthz (never needs the token), GET /v1/members, GET /v1/self, GET /v1/events (SSE,
 *   resumable), POST /v1/broadcast, POST /v1/send/{node}, GET /v1/messages?type=N (SSE),
 *   PUT|DELETE /v1/meta/{key}, GET /metrics (Prometheus, prom-client), GET / (the dashboard),
 *   plus the routes of plugins (kv, mesh) given in `routes`.
 * Every request first passes the per-IP rate limit (429 + Retry-After) and, with a `token`, the
 * bearer check (401). Errors are JSON `{error, code}`; an unknown path is a 404, another method a
 * 405, a malformed request a 400, and nothing a client sends can crash the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GrapevineError, formatHostPort, parseHostPort, silentLogger, type Cluster, type Logger } from '@grapevine/core';
import { Counter, Gauge } from 'prom-client';
import { dashboardHtml } from './dashboard/page.js';
import { EventStreams } from './event-stream.js';
import { DEFAULT_MAX_BODY_BYTES, HttpError, TOKEN_COOKIE, bearerCheck, tokenMatcher, methodNotAllowed, send, sendError, sendJson } from './http-common.js';
import { asHttpError, clusterRoutes } from './http-routes-cluster.js';
import { MessageStreams, messageRoutes } from './http-routes-messages.js';
import { PrometheusExporter } from './prometheus.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { SseClients, type EventStreamStats } from './sse-clients.js';

export type { EventStreamStats } from './sse-clients.js';

/**
 * An extra route (a plugin's: the mesh bus, the KV store): called after the rate limit and the
 * token check, before the built-in routes; returns true when it handled (or is handling) the request.
 */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;

export interface HttpApiOptions {
  /** Extra routes, tried in order before the built-in ones. */
  routes?: readonly HttpRoute[];
  /** "host:port" to listen on; port 0 picks a free port. Default "127.0.0.1:0". */
  bind?: string;
  logger?: Logger;
  /** Comment line sent to idle event streams so dead clients are noticed (ms). Default 15000. */
  heartbeatMs?: number;
  /** Most SSE clients (GET /v1/events and /v1/messages together) at once; the next gets 503. Default 256. */
  maxEventClients?: number;
  /** Unsent bytes one SSE client may have queued before it is disconnected. Default 256 KiB. */
  maxEventBufferBytes?: number;
  /** Member events kept for replay after Last-Event-ID. Default 1024. */
  replayEvents?: number;
  /** Largest request body read (bytes); a larger one gets 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Message types GET /v1/messages may register. Default 64. */
  maxMessageTypes?: number;
  /** A bearer token every request but GET /healthz must carry (`Authorization: Bearer ...`). */
  token?: string;
  /** Requests per client IP: the token bucket (rate-limit.ts). */
  rateLimit?: RateLimitOptions;
  /** prom-client's process metrics on /metrics. Default true. */
  processMetrics?: boolean;
}

export interface HttpApi {
  /** "host:port" the server listens on (the real port when bound to 0). */
  readonly address: string;
  readonly port: number;
  /** SSE clients connected now. */
  readonly openStreams: number;
  /** SSE clients: open now, refused (503) and dropped (stopped reading) so far. */
  readonly eventStreams: EventStreamStats;
  /** Stop listening and end open event streams. */
  close(): Promise<void>;
}

const EXACT = new Set(['/', '/v1/members', '/v1/self', '/v1/events', '/v1/messages', '/v1/broadcast', '/metrics']);
const PREFIXES = ['/v1/send/', '/v1/meta/'];

/**
 * Serve the HTTP API for `cluster`. A promise of a cluster is accepted so an agent can listen before
 * its initial join finished: until it resolves, the routes that need it answer 503 (/healthz says
 * "starting") and event streams open but stay quiet.
 */
export async function startHttpApi(source: Cluster | Promise<Cluster>, opts: HttpApiOptions = {}): Promise<HttpApi> {
  let cluster: Cluster | undefined;
  let failed = false;
  let exporter: PrometheusExporter | undefined;
  const waiting = new Set<(c: Cluster) => void>();
  const logger = opts.logger ?? silentLogger;
  const bind = parseHostPort(opts.bind ?? '127.0.0.1:0');
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) throw new GrapevineError('ERR_INVALID_OPTION', `maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  const sse = new SseClients({
    ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
    ...(opts.maxEventClients !== undefined ? { maxClients: opts.maxEventClients } : {}),
    ...(opts.maxEventBufferBytes !== undefined ? { maxBufferedBytes: opts.maxEventBufferBytes } : {}),
  });
  const limiter = new RateLimiter(opts.rateLimit);
  const authorized = opts.token !== undefined ? bearerCheck(opts.token) : undefined;
  const tokenMatches = opts.token !== undefined ? tokenMatcher(opts.token) : undefined;
  let unauthorized = 0;
  const messages = new MessageStreams(sse, opts.maxMessageTypes);

  const ready = (c: Cluster): void => {
    cluster = c;
    exporter = new PrometheusExporter(c, { processMetrics: opts.processMetrics ?? true });
    registerHttpMetrics(exporter, () => ({ sse: sse.stats, limited: limiter.limited, unauthorized, messages }));
    for (const fn of [...waiting]) fn(c);
    waiting.clear();
  };
  if (source instanceof Promise) source.then(ready, () => { failed = true; });
  else ready(source);
  const events = new EventStreams(
    { cluster: () => cluster, finished: () => failed || cluster?.closed === true, whenReady: (fn) => waiting.add(fn) },
    sse,
    opts.replayEvents,
  );

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw new HttpError(400, 'ERR_BAD_REQUEST', 'bad request target');
    }
    const wait = limiter.take(req.socket.remoteAddress ?? '');
    if (wait > 0) {
      req.resume();
      return sendError(res, new HttpError(429, 'ERR_RATE_LIMITED', 'too many requests from this address', { retryAfter: wait }), { 'Retry-After': String(wait) });
    }
    const path = url.pathname;
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, req.method, 'GET, HEAD');
      const state = failed ? 'failed' : cluster === undefined ? 'starting' : cluster.closed ? 'closed' : 'ok';
      return sendJson(res, state === 'ok' ? 200 : 503, { status: state });
    }
    // The dashboard with a token: `GET /?token=T` trades a valid T for an HttpOnly, SameSite=Strict
    // cookie and redirects to `/`, so the token leaves the address bar and the page's own requests
    // (script, fetches, EventSource) carry it; see bearerCheck for what the cookie may do.
    if (tokenMatches !== undefined && path === '/' && req.method === 'GET' && url.searchParams.has('token')) {
      if (!tokenMatches(url.searchParams.get('token') ?? undefined)) {
        unauthorized++;
        return sendError(res, new HttpError(401, 'ERR_UNAUTHORIZED', 'the token in ?token= is not valid'), { 'WWW-Authenticate': 'Bearer' });
      }
      res.writeHead(303, {
        Location: '/',
        'Set-Cookie': `${TOKEN_COOKIE}=${encodeURIComponent(url.searchParams.get('token')!)}; HttpOnly; SameSite=Strict; Path=/`,
        'Cache-Control': 'no-store',
      });
      res.end();
      return;
    }
    if (authorized !== undefined && !authorized(req)) {
      unauthorized++;
      req.resume();
      return sendError(res, new HttpError(401, 'ERR_UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer TOKEN)'), { 'WWW-Authenticate': 'Bearer' });
    }
    for (const route of opts.routes ?? []) if (route(req, res, url)) return;
    if (!EXACT.has(path) && !PREFIXES.some((p) => path.startsWith(p))) throw new HttpError(404, 'ERR_NOT_FOUND', 'not found', { path });
    if (path === '/v1/events') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, req.method, 'GET, HEAD');
      return events.open(req, res);
    }
    if (cluster === undefined) throw new HttpError(503, failed ? 'ERR_FAILED' : 'ERR_STARTING', failed ? 'the node failed to start' : 'the node is starting');
    if (clusterRoutes({ cluster, maxBodyBytes }, req, res, url)) return;
    if (messageRoutes({ cluster, maxBodyBytes, messages }, req, res, url)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, req.method, 'GET, HEAD');
    if (path === '/metrics') {
      const ex = exporter!;
      ex.render().then(
        (text) => send(res, 200, ex.contentType, text),
        (err: unknown) => {
          logger.error({ err }, 'metrics render failed');
          sendError(res, new HttpError(500, 'ERR_INTERNAL', 'internal error'));
        },
      );
      return;
    }
    return send(res, 200, 'text/html; charset=utf-8', dashboardHtml(cluster.name));
  };

  const server: Server = createServer((req, res) => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    try {
      handle(req, res);
    } catch (err) {
      const e = asHttpError(err);
      if (e.status === 500) logger.error({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) {
        req.resume();
        sendError(res, e);
      } else res.destroy();
    }
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(new Error(`http: cannot listen on ${formatHostPort(bind)}: ${err.code ?? err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen({ host: bind.host, port: bind.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.warn({ err }, 'http server error'));
  const info = server.address() as AddressInfo;
  const address = formatHostPort({ host: info.address, port: info.port });

  let closing: Promise<void> | undefined;
  return {
    address,
    port: info.port,
    get openStreams() {
      return sse.stats.open;
    },
    get eventStreams() {
      return sse.stats;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        exporter?.close();
        sse.endAll();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The API's own counters, on the same registry as the cluster's. */
function registerHttpMetrics(ex: PrometheusExporter, read: () => { sse: EventStreamStats; limited: number; unauthorized: number; messages: MessageStreams }): void {
  const registers = [ex.registry];
  const counter = (name: string, help: string, value: () => number): void => {
    new Counter({ name, help, registers, collect() { this.reset(); this.inc(value()); } });
  };
  new Gauge({ name: 'grapevine_http_event_clients', help: 'Server-sent-event clients (GET /v1/events and /v1/messages) connected now.', registers, collect() { this.set(read().sse.open); } });
  counter('grapevine_http_event_clients_refused_total', 'SSE clients answered 503 (maxEventClients connected).', () => read().sse.refused);
  counter('grapevine_http_event_clients_dropped_total', 'SSE clients disconnected for not reading (unsent output past maxEventBufferBytes).', () => read().sse.dropped);
  counter('grapevine_http_rate_limited_total', 'Requests answered 429 (a client IP past its rate limit).', () => read().limited);
  counter('grapevine_http_unauthorized_total', 'Requests answered 401 (missing or wrong bearer token).', () => read().unauthorized);
  counter('grapevine_http_messages_delivered_total', 'User messages written to GET /v1/messages clients.', () => read().messages.delivered);
  counter('grapevine_http_messages_unheard_total', 'User messages of a subscribed type that arrived while no client listened.', () => read().messages.unheard);
}
