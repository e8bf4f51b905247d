/**
 * The agent's HTTP API on node:http:
 *   GET /v1/members   JSON array of {name, addr, state, incarnation, meta} (?state=alive,suspect filters)
 *   GET /v1/events    server-sent events, one `data:` line per JSON event (as `--events json` prints)
 *   GET /metrics      Prometheus text
 *   GET /             the live dashboard
 * Anything else is a JSON 404; another method is a 405. Bad requests never crash the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatHostPort, parseHostPort, silentLogger, type Cluster, type Logger, type MemberEvent, type MemberState } from '@grapevine/core';
import { dashboardHtml } from './dashboard.js';
import { memberEventToJson, memberToJson } from './event-json.js';
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
}

export interface HttpApi {
  /** "host:port" the server listens on (the real port when bound to 0). */
  readonly address: string;
  readonly port: number;
  /** Event-stream clients connected now. */
  readonly openStreams: number;
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
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const streams = new Set<ServerResponse>();

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
    if (path === '/v1/events') return openStream(req, res);
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
        return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', renderPrometheus(cluster));
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', dashboardHtml(cluster.name));
    }
  };

  const openStream = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    if (req.method === 'HEAD' || failed || cluster?.closed) {
      res.end();
      return;
    }
    res.write(': grapevine events\n\n');
    streams.add(res);
    let off: (() => void) | undefined;
    const subscribe = (c: Cluster): void => {
      const self = c.name;
      off = c.on('change', (ev: MemberEvent): void => {
        if (ev.member.name === self) return;
        res.write(`data: ${JSON.stringify(memberEventToJson(ev))}\n\n`);
      });
    };
    if (cluster !== undefined) subscribe(cluster);
    else waiting.add(subscribe);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
    heartbeat.unref();
    let cleaned = false;
    const cleanup = (): void => {
      if (cleaned) return;
      cleaned = true;
      off?.();
      waiting.delete(subscribe);
      clearInterval(heartbeat);
      streams.delete(res);
    };
    // res 'close' fires when the client goes away (req 'close' fires once the request was read).
    res.on('close', cleanup);
    res.on('error', cleanup);
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
      return streams.size;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const res of [...streams]) res.end();
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
