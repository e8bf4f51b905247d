/**
 * createCluster's `transport: 'ws'`: a WsTransport on a listener of its own (`bind`), on an https
 * listener of its own (`ws.https`, for wss:// without an application server), or mounted at a path
 * of the application's http/https server (`ws.server`).
 */
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import { GrapevineError, formatHostPort, parseHostPort, type HostPort, type Logger, type TransportReceiver } from '@grapevine/core';
import { DEFAULT_PATH, WsTransport, type WsTransportOptions } from '@grapevine/transport-ws';

/** The `ws` option of createCluster: everything WsTransport takes, minus what createCluster sets. */
export interface WsClusterOptions extends Omit<WsTransportOptions, 'listen' | 'advertise' | 'logger' | 'server'> {
  /**
   * Mount on this http or https server (which you start and close) at `path`, instead of listening
   * on `bind`. An https server makes the node's address wss://.
   */
  server?: HttpServer | HttpsServer;
  /**
   * Serve wss:// on a listener of our own at `bind`: options for `https.createServer`, at least
   * `cert` and `key`. (`tls` configures the other direction: trust when dialing wss:// peers.)
   */
  https?: HttpsServerOptions;
}

export interface WsTransportSetup {
  bind: string | undefined;
  advertise: string | undefined;
  defaultBind: string;
  defaultPort: number;
  ws: WsClusterOptions | undefined;
  logger: Logger | undefined;
}

/** Build (without starting) the WebSocket transport createCluster({transport: 'ws'}) runs on. */
export function createWsTransport(setup: WsTransportSetup): WsTransport {
  const { server, https, ...rest } = checkWsOptions(setup.ws);
  const common: WsTransportOptions = {
    ...rest,
    ...(setup.advertise !== undefined ? { advertise: setup.advertise } : {}),
    ...(setup.logger !== undefined ? { logger: setup.logger } : {}),
  };
  if (server !== undefined) {
    if (setup.bind !== undefined) throw invalid('bind does not apply with ws.server: the transport serves on that server (drop bind, or drop ws.server)');
    if (https !== undefined) throw invalid('give either ws.server or ws.https, not both');
    return new WsTransport({ ...common, server });
  }
  const bind = parseHostPort(setup.bind ?? setup.defaultBind, setup.defaultPort);
  if (https !== undefined) return new HttpsListenerWsTransport(https, bind, common);
  return new WsTransport({ ...common, listen: bind });
}

function checkWsOptions(ws: WsClusterOptions | undefined): WsClusterOptions {
  if (ws === undefined) return {};
  if (typeof ws !== 'object' || ws === null || Array.isArray(ws)) throw invalid('option ws must be an object of WebSocket transport options');
  for (const key of ['listen', 'advertise', 'logger'] as const) {
    if ((ws as Record<string, unknown>)[key] !== undefined) {
      throw invalid(`ws.${key} is set by createCluster (use the top-level ${key === 'listen' ? 'bind' : key} option)`);
    }
  }
  if (ws.https !== undefined && (typeof ws.https !== 'object' || ws.https === null)) throw invalid('ws.https must be https.createServer options ({cert, key, ...})');
  return ws;
}

function invalid(message: string): GrapevineError {
  return new GrapevineError('ERR_INVALID_OPTION', message);
}

/**
 * A WsTransport on an https server it owns: WsTransport only mounts on https servers (it never
 * closes a server it did not make), so this starts the server before the transport and closes it
 * after. Plain requests get 426 on the gossip path and 404 elsewhere, like the plain listener.
 */
class HttpsListenerWsTransport extends WsTransport {
  readonly #server: HttpsServer;
  readonly #bind: HostPort;
  #closed: Promise<void> | undefined;

  constructor(options: HttpsServerOptions, bind: HostPort, common: WsTransportOptions) {
    const server = createHttpsServer(options, (req, res) => answerPlainRequest(req, res, common.path ?? DEFAULT_PATH));
    super({ ...common, server });
    const timeout = common.handshakeTimeout ?? 5000;
    // Sockets that never finish their TLS handshake or request headers do not linger.
    server.headersTimeout = timeout;
    server.requestTimeout = timeout;
    server.on('tlsClientError', () => undefined);
    this.#server = server;
    this.#bind = bind;
  }

  override async start(receiver: TransportReceiver): Promise<void> {
    await listenOn(this.#server, this.#bind);
    try {
      await super.start(receiver);
    } catch (err) {
      await closeServer(this.#server);
      throw err;
    }
  }

  override close(): Promise<void> {
    this.#closed ??= super.close().then(() => closeServer(this.#server));
    return this.#closed;
  }
}

function answerPlainRequest(req: IncomingMessage, res: ServerResponse, path: string): void {
  const ours = (req.url ?? '').split('?')[0] === path;
  res.writeHead(ours ? 426 : 404, { 'Content-Type': 'text/plain', ...(ours ? { Upgrade: 'websocket' } : {}) });
  res.end(ours ? 'Upgrade Required' : 'Not Found');
}

function listenOn(server: HttpsServer, bind: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new GrapevineError('ERR_INVALID_ADDRESS', `ws: cannot bind ${formatHostPort(bind)}: ${err.code ?? err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: bind.host, port: bind.port }, () => {
      server.off('error', onError);
      server.on('error', () => undefined); // after listening, errors belong to single connections
      resolve();
    });
  });
}

function closeServer(server: HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    // The callback also runs (with an error we do not need) when the server never listened.
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
