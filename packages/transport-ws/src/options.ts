import type { Server as HttpServer } from 'node:http';
import type { ClientOptions } from 'ws';
import type { Server as HttpsServer } from 'node:https';
import { Server as TlsServer, type SecureContextOptions } from 'node:tls';
import { GrapevineError, emptyTransportStats, parseHostPort, silentLogger, type HostPort, type Logger, type TransportStats } from '@grapevine/core';
import { DEFAULT_PATH, canonicalPeerUrl, checkPath, type Scheme } from './ws-address.js';

/** Client-side TLS settings for dialing wss:// peers. */
export interface WsTlsOptions {
  /** Certificates to trust instead of the system's (a private CA, a self-signed peer). */
  ca?: SecureContextOptions['ca'];
  /** Client certificate and key, for servers that ask for one (mutual TLS). */
  cert?: SecureContextOptions['cert'];
  key?: SecureContextOptions['key'];
  /** Verify the server's certificate. Default true; false only for tests. */
  rejectUnauthorized?: boolean;
  /** SNI / certificate name to expect when it differs from the URL's host. */
  servername?: string;
}

export interface WsTransportOptions {
  /** Run a WebSocket listener of its own on this address (port 0: any free port). One of `listen`, `server`. */
  listen?: HostPort | string;
  /**
   * Serve on an existing Node http or https server instead: the transport handles 'upgrade' for
   * `path` only and leaves every other request and upgrade alone.
   */
  server?: HttpServer | HttpsServer;
  /** Path the transport serves, and that "host:port" addresses mean. Default "/grapevine". */
  path?: string;
  /**
   * The ws:// or wss:// URL peers dial (NAT, proxies, load balancers); "host:port" means this
   * transport's scheme and path there. Default: built from the bound address, port and path.
   */
  advertise?: string;
  /** TLS settings for dialing wss:// peers. */
  tls?: WsTlsOptions;
  /** Bearer token: sent when dialing, required of every peer that connects (401 otherwise). */
  token?: string;
  /** Largest packet the cluster should put in one sendPacket (bytes). Default 65536. */
  packetBudget?: number;
  /** Largest message sent or accepted, reliable or not (bytes). Default 8 MiB. */
  maxMessageBytes?: number;
  /** Bytes a connection may hold unsent (its socket buffer and queued messages). Default 16 MiB. */
  maxBufferedBytes?: number;
  /**
   * Most connections, inbound and outbound together, dials included. At the limit a new upgrade
   * takes the slot of the oldest unproductive connection — an inbound one still without a hello,
   * else one whose peer is not a member (or, used without a Cluster, that carried no message either
   * way after the hello) — counted in `evicted`; with none, it gets `503`. A dial does the same, else closes the
   * least recently used connection. Default 1024.
   */
  maxConnections?: number;
  /**
   * Most inbound connections open at once from one remote IP address; one more upgrade is refused
   * with 503 (counted in `connectionsRejected` and `perPeerRejected`). 0 turns the cap off. Behind
   * a reverse proxy every peer has the proxy's address: set 0 there, or at least the cluster size.
   * Default 8.
   */
  maxInboundPerPeer?: number;
  /** Leave loopback sources (127.0.0.0/8, ::1) out of `maxInboundPerPeer`. Default true. */
  exemptLoopback?: boolean;
  /** Dial (TCP, TLS, HTTP upgrade) and hello exchange must finish within this (ms). Default 5000. */
  handshakeTimeout?: number;
  /** Ping every connection this often (ms; 0 never). Default 15000. */
  pingInterval?: number;
  /** Terminate a connection with no pong (or any message) this long after a ping (ms). Default 10000. */
  pingTimeout?: number;
  /** A graceful close that has not finished after this long is cut (ms). Default 2000. */
  closeTimeout?: number;
  /**
   * Close a connection over which no message went either way for this long (ms; 0 never). Pings
   * do not count; a member with something to say redials. Counted in `idleClosed`. Default 300000.
   */
  idleTimeout?: number;
  /**
   * Every this long after a connection's hello, ask the cluster whether its peer is a member (alive
   * or suspect); close it when not (`notMemberClosed`). So a peer that says hello and never joins
   * holds a slot for at most this long. Needs a receiver that answers `isMember` (a Cluster does);
   * 0 never. Default 30000.
   */
  memberTimeout?: number;
  /**
   * Warnings of one kind (a refused upgrade, a bad token) are written at most once per this many
   * ms: the first at once, then one line saying how many more were suppressed (0: every one).
   * Default 60000.
   */
  warningInterval?: number;
  /** First delay before redialing a peer after a failed dial (ms). Default 100. */
  reconnectBaseDelay?: number;
  /** Longest delay between dials to a peer that keeps failing (ms). Default 5000. */
  reconnectMaxDelay?: number;
  /**
   * Open the connection to a member as soon as the cluster learns of it (Transport.connect), so its
   * first probe or message does not wait for a TCP and HTTP upgrade handshake. Of each pair only the
   * node whose advertised URL sorts first dials, the one whose link would win anyway. Default true.
   */
  connectAhead?: boolean;
  /**
   * How long after learning of a member the ahead-of-time dial starts (ms): a random time between
   * half and one and a half times this, so the dials of a join stay out of its burst (0 made a
   * 50-node join 1.4× slower; 250 and 1000 did not change it; docs/benchmarks.md). Default 250.
   */
  connectAheadDelay?: number;
  /**
   * Send to a peer over the connection it opened to us (default true), so a pair needs one socket.
   * The peer's identity is what its hello claims: on a network you do not trust, set a `token` (and
   * use wss://), or turn this off so every node sends only over connections it dialed itself.
   */
  reuseInbound?: boolean;
  /**
   * How `InboundInfo.from` names a peer: its advertised URL's "host:port" (the default, what the
   * Transport contract and the conformance suite expect), or the whole URL.
   */
  fromFormat?: 'host-port' | 'url';
  logger?: Logger;
}

export type WsTransportStats = TransportStats & {
  /** Inbound connections accepted. (`connectionsOpened` counts the outbound ones.) */
  connectionsAccepted: number;
  /** Upgrades refused at the connection limit, the per-peer limit or while not listening. */
  connectionsRejected: number;
  /** Of `connectionsRejected`, those refused because their IP was at `maxInboundPerPeer`. */
  perPeerRejected: number;
  /** Upgrades refused for a missing or wrong bearer token (401). */
  authFailures: number;
  /** Outbound connections opened to a peer that had been connected before. */
  reconnects: number;
  /** Connections closed because another one to the same peer was kept (simultaneous dial, restarted peer). */
  duplicatesClosed: number;
  /** Connections terminated for a missing pong. */
  pingTimeouts: number;
  /** Sends refused because the connection already held maxBufferedBytes. */
  bufferOverflows: number;
  /** Dials started ahead of any message (connectAhead). */
  aheadDials: number;
  /** Our dials stopped because the peer's connection to us arrived first and wins the tie-break. */
  dialsSuperseded: number;
  /** Connections closed at `idleTimeout`. */
  idleClosed: number;
  /** Connections closed at `memberTimeout` because their peer was not a member. */
  notMemberClosed: number;
  /** Unproductive connections closed at `maxConnections` to make room for a new one. */
  evicted: number;
};

export function emptyWsStats(): WsTransportStats {
  return {
    ...emptyTransportStats(),
    connectionsAccepted: 0, connectionsRejected: 0, perPeerRejected: 0, authFailures: 0, reconnects: 0,
    duplicatesClosed: 0, pingTimeouts: 0, bufferOverflows: 0, aheadDials: 0, dialsSuperseded: 0,
    idleClosed: 0, notMemberClosed: 0, evicted: 0,
  };
}

/** Options checked and defaulted. */
export interface Settings {
  listen: HostPort | undefined;
  server: HttpServer | HttpsServer | undefined;
  path: string;
  scheme: Scheme;
  advertise: string | undefined;
  tls: WsTlsOptions;
  token: string | undefined;
  packetBudget: number;
  maxMessageBytes: number;
  maxBufferedBytes: number;
  maxConnections: number;
  maxInboundPerPeer: number;
  exemptLoopback: boolean;
  handshakeTimeout: number;
  pingInterval: number;
  pingTimeout: number;
  closeTimeout: number;
  idleTimeout: number;
  memberTimeout: number;
  warningInterval: number;
  reconnectBaseDelay: number;
  reconnectMaxDelay: number;
  reuseInbound: boolean;
  connectAhead: boolean;
  connectAheadDelay: number;
  fromFormat: 'host-port' | 'url';
  logger: Logger;
}

const MiB = 1024 * 1024;

export function resolveOptions(o: WsTransportOptions): Settings {
  if ((o.listen === undefined) === (o.server === undefined)) {
    throw new GrapevineError('ERR_INVALID_OPTION', 'ws transport needs exactly one of `listen` and `server`');
  }
  let listen: HostPort | undefined;
  if (o.listen !== undefined) {
    listen = typeof o.listen === 'string' ? parseHostPort(o.listen) : { host: o.listen.host, port: o.listen.port };
    if (!Number.isInteger(listen.port) || listen.port < 0 || listen.port > 65_535) {
      throw new GrapevineError('ERR_INVALID_OPTION', `listen port must be an integer in 0..65535, got ${String(listen.port)}`);
    }
  }
  const path = checkPath(o.path ?? DEFAULT_PATH);
  const scheme: Scheme = o.server instanceof TlsServer ? 'wss' : 'ws';
  const maxMessageBytes = checkInt('maxMessageBytes', o.maxMessageBytes, 8 * MiB, 1, 1024 * MiB);
  const fromFormat = o.fromFormat ?? 'host-port';
  if (fromFormat !== 'host-port' && fromFormat !== 'url') {
    throw new GrapevineError('ERR_INVALID_OPTION', `fromFormat must be "host-port" or "url", got ${String(fromFormat)}`);
  }
  const settings: Settings = {
    listen,
    server: o.server,
    path,
    scheme,
    advertise: o.advertise === undefined ? undefined : canonicalPeerUrl(o.advertise, path, scheme),
    tls: { ...o.tls },
    token: o.token,
    packetBudget: checkInt('packetBudget', o.packetBudget, 64 * 1024, 256, maxMessageBytes),
    maxMessageBytes,
    maxBufferedBytes: checkInt('maxBufferedBytes', o.maxBufferedBytes, 16 * MiB, maxMessageBytes + 1),
    maxConnections: checkInt('maxConnections', o.maxConnections, 1024, 1),
    maxInboundPerPeer: checkInt('maxInboundPerPeer', o.maxInboundPerPeer, 8, 0),
    exemptLoopback: o.exemptLoopback ?? true,
    handshakeTimeout: checkInt('handshakeTimeout', o.handshakeTimeout, 5000, 1),
    pingInterval: checkInt('pingInterval', o.pingInterval, 15_000, 0),
    pingTimeout: checkInt('pingTimeout', o.pingTimeout, 10_000, 1),
    closeTimeout: checkInt('closeTimeout', o.closeTimeout, 2000, 1),
    idleTimeout: checkInt('idleTimeout', o.idleTimeout, 300_000, 0),
    memberTimeout: checkInt('memberTimeout', o.memberTimeout, 30_000, 0),
    warningInterval: checkInt('warningInterval', o.warningInterval, 60_000, 0),
    reconnectBaseDelay: checkInt('reconnectBaseDelay', o.reconnectBaseDelay, 100, 0),
    reconnectMaxDelay: checkInt('reconnectMaxDelay', o.reconnectMaxDelay, 5000, 0),
    reuseInbound: o.reuseInbound ?? true,
    connectAhead: o.connectAhead ?? true,
    connectAheadDelay: checkInt('connectAheadDelay', o.connectAheadDelay, 250, 0, 3_600_000),
    fromFormat,
    logger: o.logger ?? silentLogger,
  };
  if (settings.reconnectMaxDelay < settings.reconnectBaseDelay) {
    throw new GrapevineError('ERR_INVALID_OPTION', 'reconnectMaxDelay must be at least reconnectBaseDelay');
  }
  return settings;
}

/** Options for every outbound WebSocket: limits, no compression or redirects, token, TLS. */
export function clientOptions(s: Settings, maxPayload: number): ClientOptions {
  const tls = s.tls;
  return {
    handshakeTimeout: s.handshakeTimeout,
    maxPayload,
    // Compression is the encode pipeline's job; redirects would carry the token elsewhere.
    perMessageDeflate: false,
    followRedirects: false,
    ...(s.token === undefined ? {} : { headers: { Authorization: `Bearer ${s.token}` } }),
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
  };
}

function checkInt(name: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new GrapevineError('ERR_INVALID_OPTION', `${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}
