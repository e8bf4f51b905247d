/**
 * The agent's HTTP API on node:http:
 *   GET /v1/members   JSON array of {name, addr, state, incarnation, meta} (?state=alive,suspect filters)
 *   GET /v1/events    server-sent events, one `data:` line per JSON event (as `--events json` prints);
 *                     clients are capped and a client that stops reading is dropped (event-stream.ts)
 *   GET /metrics      Prometheus text
 *   GET /             the live dashboard
 * Anything else is a JSON 404; another method is a 405. Bad requests never crash the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatHostPort, parseHostPort, silentLogger, type Cluster, type Logger, type MemberState } from '@grapevine/core';
import { dashboardHtml } from './dashboard/page.js';
import { memberToJson } from './event-json.js';
import { EventStreams, type EventStreamStats } from './event-stream.js';
import { renderPrometheus } from './prometheus.js';

/**
 * An extra route (a plugin's: the mesh bus, the KV store): called before the built-in routes;
 * returns true when it handled (or is handling) the request.
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
  /** Most `GET /v1/events` clients at once; the next one gets 503 (JSON body). Default 256. */
  maxEventClients?: number;
  /** Unsent bytes one event-stream client may have queued before it is disconnected. Default 256 KiB. */
  maxEventBufferBytes?: number;
}

export interface HttpApi {
  /** "host:port" the server listens on (the real port when bound to 0). */
  readonly address: string;
  readonly port: number;
  /** Event-stream clients connected now. */
  readonly openStreams: number;
  /** Event-stream clients: open now, refused (503) and dropped (stopped reading) so far. */
  readonly eventStreams: EventStreamStats;
  /** Stop listening and end open event streams. */
  close(): Promise<void>;
}

const STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];
const ROUTES = new Set(['/', '/v1/members', '/v1/events', '/metrics']);

/**
 * Serve the HTTP API for `cluster`. A promise of a cluster is accepted so an agent can listen before
 * its initial join finished: until it resolves, /v1/members and /metrics answer 503 and event
 * streams open but stay quiet.
 */
export async function startHttpApi(source: Cluster | Promise<Cluster>, opts: HttpApiOptions = {}): Promise<HttpApi> {
  let cluster: Cluster | undefined;
  let failed = false;
  const waiting = new Set<(c: Cluster) => void>();
  if (source instanceof Promise) {
    source.then(
      (c) => {
        cluster = c;
        for (const fn of [...waiting]) fn(c);
        waiting.clear();
      },
      () => {
        failed = true;
      },
    );
  } else {
    cluster = source;
  }
  const bind = parseHostPort(opts.bind ?? '127.0.0.1:0');
  const logger = opts.logger ?? silentLogger;
  const events = new EventStreams(
    {
      cluster: () => cluster,
      finished: () => failed || cluster?.closed === true,
      whenReady: (fn) => {
        waiting.add(fn);
        return () => waiting.delete(fn);
      },
    },
    {
      ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
      ...(opts.maxEventClients !== undefined ? { maxClients: opts.maxEventClients } : {}),
      ...(opts.maxEventBufferBytes !== undefined ? { maxBufferedBytes: opts.maxEventBufferBytes } : {}),
    },
  );

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return sendJson(res, 400, { error: 'bad request target' });
    }
    const path = url.pathname;
    for (const route of opts.routes ?? []) if (route(req, res, url)) return;
    if (!ROUTES.has(path)) return sendJson(res, 404, { error: 'not found', path });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method not allowed', method: req.method ?? '' });
    }
    if (path === '/v1/events') return events.open(req, res);
    if (cluster === undefined) return sendJson(res, 503, { error: failed ? 'the node failed to start' : 'the node is starting' });
    switch (path) {
      case '/v1/members': {
        const param = url.searchParams.get('state');
        let filter: MemberState[] | undefined;
        if (param !== null && param !== '') {
          const wanted = param.split(',');
          const bad = wanted.find((s) => !(STATES as readonly string[]).includes(s));
          if (bad !== undefined) return sendJson(res, 400, { error: `unknown state "${bad}" (alive, suspect, dead, left)` });
          filter = wanted as MemberState[];
        }
        const members = cluster.members(filter ? { state: filter } : {}).map(memberToJson);
        members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        return sendJson(res, 200, members);
      }
      case '/metrics':
        return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', renderPrometheus(cluster) + events.prometheus());
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', dashboardHtml(cluster.name));
    }
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      logger.error({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
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
      return events.stats.open;
    },
    get eventStreams() {
      return events.stats;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        events.endAll();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': bytes.byteLength, 'Cache-Control': 'no-store' });
  res.end(bytes);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}
