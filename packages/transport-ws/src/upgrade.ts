import { STATUS_CODES, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { GrapevineError, formatHostPort, type HostPort } from '@grapevine/core';
import type { Duplex } from 'node:stream';

/** The path of a request target ("/grapevine?x=1" → "/grapevine"; absolute-form targets too). */
export function requestPath(target: string | undefined): string {
  if (target === undefined) return '';
  let path = target;
  if (!path.startsWith('/')) {
    try {
      path = new URL(path).pathname;
    } catch {
      return '';
    }
  }
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, headers: Record<string, string> = {}): void {
  socket.on('error', () => undefined); // a peer resetting a refused socket is not our error
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = STATUS_CODES[status] ?? 'Error';
  const lines = [
    `HTTP/1.1 ${status} ${body}`,
    'Connection: close',
    'Content-Type: text/plain',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * Serves an upgrade request nobody else wants as the plain request Node would have made of it had
 * no 'upgrade' listener been registered (Node >= 20 does that): the server's 'request' handlers
 * answer it, on a connection closed afterwards. `Upgrade: h2c` from curl, say, still gets the
 * application's normal response.
 */
export function serveAsPlainRequest(server: Server, req: IncomingMessage, socket: Duplex): void {
  if (server.listenerCount('request') === 0) {
    refuseUpgrade(socket, 404);
    return;
  }
  const net = socket as Socket;
  net.on('error', () => undefined);
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(net);
  res.once('finish', () => {
    res.detachSocket(net);
    net.end();
  });
  server.emit('request', req, res);
}

/** Listens on `bind`; a bind failure rejects ERR_INVALID_ADDRESS with the errno error as cause. */
export function listen(server: Server, bind: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new GrapevineError('ERR_INVALID_ADDRESS', `ws: cannot bind ${formatHostPort(bind)}: ${err.code ?? err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: bind.host, port: bind.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
