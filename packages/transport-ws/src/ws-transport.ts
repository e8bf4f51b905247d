import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import {
  GrapevineError,
  InboundPerPeer,
  LogLimiter,
  systemClock,
  advertisedAddress,
  formatRemoteAddress,
  type Transport,
  type TransportReceiver,
} from '@grapevine/core';
import { BearerCheck } from './bearer.js';
import { INSTANCE_BYTES, KIND_PACKET, KIND_RELIABLE, MAX_HELLO_URL_BYTES, encodeHello, encodeMessage } from './frames.js';
import { Link, type LinkEvents, type LinkSettings } from './link.js';
import { SUPERSEDED, dialLink, unreachable, type DialContext } from './dial.js';
import { clientOptions, emptyWsStats, resolveOptions, type Settings, type WsTransportOptions, type WsTransportStats } from './options.js';
import { DialHistory, type Peer, type PeerLink } from './peer.js';
import { listen, refuseUpgrade, requestPath, serveAsPlainRequest } from './upgrade.js';
import { canonicalPeerUrl, hostPortOf } from './ws-address.js';
import { PeerLinks } from './peer-links.js';
import { findUnproductive, peerIsMember } from './eviction.js';


type State = 'new' | 'starting' | 'listening' | 'closed';

/**
 * Grapevine over WebSocket (the `ws` package): a listener of its own or a path on an existing
 * http/https server, one long-lived connection per peer pair carrying packets and reliable
 * messages (one kind byte + payload per binary message), redialed with backoff, kept alive with
 * ping frames. Addresses are ws:// or wss:// URLs; "host:port" means this transport's scheme and
 * path at host:port.
 */
export class WsTransport implements Transport {
  readonly packetBudget: number;
  readonly stats: WsTransportStats = emptyWsStats();

  private readonly s: Settings;
  private readonly bearer: BearerCheck | undefined;
  private readonly instance = randomBytes(INSTANCE_BYTES);
  private readonly instanceId = this.instance.toString('hex');
  private readonly wss: WebSocketServer;
  private clientOptions: ClientOptions;
  /** Canonical peer URL per address as given to send, so a hot path does not parse URLs. */
  private readonly canonical = new Map<string, string>();
  private readonly linkEvents: LinkEvents;
  private readonly table: PeerLinks;
  /** Every link, inbound or outbound, handshaking, open or closing, so close() reaches them all. */
  private readonly links = new Set<PeerLink>();
  /** Outbound sockets still connecting (before 'open'). */
  private readonly dials = new Set<WebSocket>();
  private readonly history: DialHistory;
  private readonly perPeer: InboundPerPeer;
  /** Ahead-of-time dials waiting for their delay, by canonical peer URL. */
  private readonly ahead = new Map<string, NodeJS.Timeout>();
  private readonly warnings: LogLimiter;
  /** What a dial needs of this transport (dial.ts); getters, since settings arrive at start(). */
  private readonly dialContext: DialContext = {
    clientOptions: () => this.clientOptions,
    linkSettings: () => this.linkSettings,
    linkEvents: () => this.linkEvents,
    dials: this.dials,
    links: this.links,
    identify: (link) => this.identify(link),
    handshakeTimeout: () => this.s.handshakeTimeout,
    path: () => this.s.path,
    hasToken: () => this.s.token !== undefined,
  };
  private readonly upgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.onUpgrade(req, socket, head);
  private linkSettings: LinkSettings | undefined;
  private advertise: string | undefined;
  private boundPort: number | undefined;
  private ownServer: HttpServer | undefined;
  private state: State = 'new';
  private receiver: TransportReceiver | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: WsTransportOptions) {
    this.s = resolveOptions(options);
    this.bearer = this.s.token === undefined ? undefined : new BearerCheck(this.s.token);
    this.warnings = new LogLimiter(this.s.logger, systemClock, this.s.warningInterval);
    this.packetBudget = this.s.packetBudget;
    this.advertise = this.s.advertise;
    this.history = new DialHistory(this.s.reconnectBaseDelay, this.s.reconnectMaxDelay);
    this.perPeer = new InboundPerPeer(this.s.maxInboundPerPeer, this.s.exemptLoopback);
    // The hello must fit whatever maxMessageBytes says.
    const maxPayload = Math.max(this.s.maxMessageBytes + 1, 2 + INSTANCE_BYTES + MAX_HELLO_URL_BYTES);
    this.wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload });
    this.clientOptions = clientOptions(this.s, maxPayload);
    this.linkEvents = {
      onReady: (link) => this.onInboundReady(link),
      onMessage: (link, kind, payload) => this.deliver(link, kind, payload),
      onDrop: (link, reason) => {
        this.stats.dropped++;
        this.s.logger.debug({ remote: link.remote, reason }, 'ws inbound data dropped');
      },
      onPingTimeout: (link) => {
        this.stats.pingTimeouts++;
        this.s.logger.debug({ remote: link.remote }, 'ws connection missed its pong; terminated');
      },
      onReap: (link, reason) => {
        if (reason === 'idle') this.stats.idleClosed++;
        else this.stats.notMemberClosed++;
        const why = reason === 'idle' ? `no message for idleTimeout (${this.s.idleTimeout} ms)` : `peer not a member after memberTimeout (${this.s.memberTimeout} ms)`;
        this.warnings.log('info', `reap ${reason}`, { remote: link.remote, peer: link.peerUrl }, `ws connection closed: ${why}`);
        void this.table.retire(link, reason === 'idle' ? 'idle' : 'not a member');
      },
      onClose: (link) => this.onLinkClosed(link),
    };
    this.table = new PeerLinks({
      selfId: () => `${this.address} ${this.instanceId}`,
      selfUrl: () => this.address,
      maxBufferedBytes: this.s.maxBufferedBytes,
      onDuplicateClosed: () => this.stats.duplicatesClosed++,
      onBufferOverflow: () => this.stats.bufferOverflows++,
      dial: (peer) => this.startDial(peer),
    });
  }

  /** The advertised ws:// or wss:// URL; valid once start() resolved. */
  get address(): string {
    if (this.advertise === undefined || this.linkSettings === undefined) {
      throw new GrapevineError('ERR_NOT_STARTED', 'ws transport is not started');
    }
    return this.advertise;
  }

  /** The port the listener (own or mounted) is bound to. */
  get bindPort(): number {
    if (this.boundPort === undefined) throw new GrapevineError('ERR_NOT_STARTED', 'ws transport is not started');
    return this.boundPort;
  }

  /** The path served, which "host:port" addresses mean. */
  get path(): string {
    return this.s.path;
  }

  /** Connections now: inbound and outbound links in any state, and dials in progress. */
  get connectionCount(): number {
    return this.links.size + this.dials.size;
  }

  async start(receiver: TransportReceiver): Promise<void> {
    if (this.state === 'closed') throw new GrapevineError('ERR_CLOSED', 'ws transport is closed');
    if (this.state !== 'new') throw new GrapevineError('ERR_INVALID_OPTION', 'ws transport already started');
    this.state = 'starting';
    this.receiver = receiver;
    this.starting = this.open();
    try {
      await this.starting;
    } catch (err) {
      this.state = 'closed';
      this.s.server?.off('upgrade', this.upgradeListener);
      throw err;
    }
    if (this.closing !== undefined) throw new GrapevineError('ERR_CLOSED', 'ws transport closed while starting');
    this.state = 'listening';
  }

  sendReliable(to: string, data: Uint8Array): Promise<void> {
    return this.send(to, KIND_RELIABLE, data).then(
      () => {
        this.stats.reliableSent++;
        this.stats.reliableBytesSent += data.byteLength;
      },
      (err: unknown) => {
        this.stats.sendErrors++;
        throw err;
      },
    );
  }

  sendPacket(to: string, data: Uint8Array): void {
    this.send(to, KIND_PACKET, data).then(
      () => {
        this.stats.packetsSent++;
        this.stats.packetBytesSent += data.byteLength;
      },
      (err: unknown) => {
        this.stats.sendErrors++;
        this.s.logger.debug({ err, to }, 'ws packet dropped');
      },
    );
  }

  /**
   * Opens the connection to `to` before anything is sent to it, after `connectAheadDelay` (so the
   * dials a join brings stay out of its burst). Only when our advertised URL sorts before the
   * peer's: the peer would close a link we dialed otherwise, as the loser of the tie-break.
   */
  connect(to: string): void {
    if (!this.s.connectAhead || this.state !== 'listening' || this.advertise === undefined) return;
    let url: string;
    try {
      url = this.canonicalUrl(to);
    } catch {
      return; // not an address this transport can dial; a send to it would say why
    }
    if (!(this.advertise < url) || this.ahead.has(url) || this.ahead.size >= this.s.maxConnections) return;
    const delay = Math.round(this.s.connectAheadDelay * (0.5 + Math.random()));
    const timer = setTimeout(() => {
      this.ahead.delete(url);
      // Never evicts a connection in use for one that may not be.
      if (this.state !== 'listening' || this.connectionCount >= this.s.maxConnections) return;
      if (this.table.prepare(url)) this.stats.aheadDials++;
    }, delay);
    timer.unref();
    this.ahead.set(url, timer);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async open(): Promise<void> {
    let bound: { host: string; port: number };
    if (this.s.listen !== undefined) {
      const server = createServer((req, res) => this.onPlainRequest(req, res));
      // Sockets that never finish their request line and headers do not linger.
      server.headersTimeout = this.s.handshakeTimeout;
      server.requestTimeout = this.s.handshakeTimeout;
      this.ownServer = server;
      server.on('upgrade', this.upgradeListener);
      await listen(server, this.s.listen);
      server.on('error', (err) => this.s.logger.warn({ err }, 'ws server error'));
      const a = server.address() as AddressInfo;
      bound = { host: a.address, port: a.port };
    } else {
      const server = this.s.server as HttpServer;
      const a = server.address();
      if (a === null || typeof a === 'string') {
        if (this.advertise === undefined) {
          throw new GrapevineError('ERR_INVALID_OPTION', 'ws transport: the server is not listening on a TCP port; listen first or give `advertise`');
        }
        bound = { host: '', port: 0 };
      } else {
        bound = { host: a.address, port: a.port };
      }
      server.on('upgrade', this.upgradeListener);
    }
    this.boundPort = bound.port;
    this.advertise ??= canonicalPeerUrl(
      `${this.s.scheme}://${advertisedAddress(bound.host, bound.port, Object.values(networkInterfaces()))}${this.s.path}`,
      this.s.path,
      this.s.scheme,
    );
    // Tells the peer who is dialing before the hello can: it then waits for this connection instead
    // of dialing one of its own to us at the same moment.
    this.clientOptions = { ...this.clientOptions, headers: { ...this.clientOptions.headers, [FROM_HEADER]: this.advertise } };
    this.linkSettings = {
      hello: encodeHello(this.advertise, this.instance),
      handshakeTimeout: this.s.handshakeTimeout,
      pingInterval: this.s.pingInterval,
      pingTimeout: this.s.pingTimeout,
      closeTimeout: this.s.closeTimeout,
      idleTimeout: this.s.idleTimeout,
      memberTimeout: this.s.memberTimeout,
      isMember: (link) => peerIsMember(link, this.receiver, this.instanceId),
      logger: this.s.logger,
    };
  }

  private send(to: string, kind: number, data: Uint8Array): Promise<void> {
    try {
      if (this.closing !== undefined) throw new GrapevineError('ERR_CLOSED', 'ws transport is closed');
      if (this.state !== 'listening') throw new GrapevineError('ERR_NOT_STARTED', 'ws transport is not started');
      if (data.byteLength > this.s.maxMessageBytes) {
        throw new GrapevineError('ERR_TOO_LARGE', `message of ${data.byteLength} bytes is over maxMessageBytes (${this.s.maxMessageBytes})`);
      }
      const key = this.canonicalUrl(to);
      const message = encodeMessage(kind, data);
      return this.table.submit(key, message);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** canonicalPeerUrl with a bounded cache (invalid addresses are not cached and throw each time). */
  private canonicalUrl(address: string): string {
    let url = this.canonical.get(address);
    if (url === undefined) {
      url = canonicalPeerUrl(address, this.s.path, this.s.scheme);
      if (this.canonical.size >= MAX_CANONICAL) {
        const oldest = this.canonical.keys().next().value;
        if (oldest !== undefined) this.canonical.delete(oldest);
      }
      this.canonical.set(address, url);
    }
    return url;
  }

  /** The canonical URL an upgrade request says it comes from; undefined when absent, bad or our own. */
  private claimedFrom(req: IncomingMessage): string | undefined {
    const raw = req.headers[FROM_HEADER];
    if (typeof raw !== 'string' || raw.length > MAX_HELLO_URL_BYTES) return undefined;
    try {
      const url = this.canonicalUrl(raw);
      return url === this.advertise ? undefined : url;
    } catch {
      return undefined;
    }
  }

  // ---- accepting -------------------------------------------------------------------------------

  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    const ours = requestPath(req.url) === this.s.path;
    const status = ours ? 426 : 404;
    res.writeHead(status, { 'Content-Type': 'text/plain', ...(ours ? { Upgrade: 'websocket' } : {}) });
    res.end(ours ? 'Upgrade Required' : 'Not Found');
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (requestPath(req.url) !== this.s.path) {
      if (this.ownServer !== undefined) refuseUpgrade(socket, 404);
      // Another handler's upgrade; when there is no other handler, the request Node would have made of it.
      else if (this.s.server !== undefined && this.s.server.listenerCount('upgrade') <= 1) serveAsPlainRequest(this.s.server, req, socket);
      return;
    }
    if (this.state !== 'listening') {
      this.stats.connectionsRejected++;
      refuseUpgrade(socket, 503);
      return;
    }
    // Refusals are logged rate-limited (LogLimiter): a flood of them would otherwise flood the log too.
    if (this.bearer !== undefined && !this.bearer.matches(req.headers.authorization)) {
      this.stats.authFailures++;
      this.warnings.warn('auth', { remote: formatRemoteAddress(req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0) }, 'ws upgrade refused: bad bearer token');
      refuseUpgrade(socket, 401, { 'WWW-Authenticate': 'Bearer realm="grapevine"' });
      return;
    }
    const ip = req.socket.remoteAddress ?? '';
    if (!this.perPeer.tryAcquire(ip)) {
      this.stats.connectionsRejected++;
      this.stats.perPeerRejected++;
      this.warnings.warn('per-peer', { remote: ip, maxInboundPerPeer: this.perPeer.max }, 'ws upgrade refused at maxInboundPerPeer; behind a proxy, raise it or set 0');
      refuseUpgrade(socket, 503);
      return;
    }
    if (this.connectionCount >= this.s.maxConnections && !this.evictUnproductive()) {
      this.perPeer.release(ip);
      this.stats.connectionsRejected++;
      this.warnings.warn('max-connections', { remote: ip, maxConnections: this.s.maxConnections }, 'ws upgrade refused at maxConnections (every connection is productive)');
      refuseUpgrade(socket, 503);
      return;
    }
    // The socket closes whatever becomes of the upgrade (handshake refused, link closed), so the slot is always given back.
    socket.once('close', () => this.perPeer.release(ip));
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.state !== 'listening' || this.linkSettings === undefined) {
        ws.terminate();
        return;
      }
      this.stats.connectionsAccepted++;
      const remote = formatRemoteAddress(req.socket.remoteAddress ?? '0.0.0.0', req.socket.remotePort ?? 0);
      const link = new Link(ws, false, remote, this.linkSettings, this.linkEvents);
      this.links.add(link);
      const from = this.s.reuseInbound ? this.claimedFrom(req) : undefined;
      if (from !== undefined && link.state === 'handshaking') this.table.expectInbound(from, link);
    });
  }

  /** At maxConnections, closes the oldest unproductive link (eviction.ts); false when every link is productive. */
  private evictUnproductive(): boolean {
    const victim = findUnproductive(this.links, this.receiver, this.instanceId);
    if (victim === undefined) return false;
    this.stats.evicted++;
    this.warnings.log('info', 'evicted', { remote: victim.remote, peer: victim.peerUrl, maxConnections: this.s.maxConnections }, 'ws: unproductive connection closed at maxConnections to make room');
    // Cut at once unless it carried our sends (then they drain first): the slot is needed now.
    if (victim.state === 'handshaking' || !victim.usedForSend) void victim.terminate();
    else void this.table.retire(victim, 'connection limit');
    return true;
  }

  /** Validates the peer's hello; false (link terminated) when its URL is unusable. */
  private identify(link: PeerLink): boolean {
    try {
      const url = this.canonicalUrl(link.peer?.url ?? '');
      link.peerUrl = url;
      link.from = this.s.fromFormat === 'url' ? url : hostPortOf(url);
      return true;
    } catch {
      this.stats.dropped++;
      this.s.logger.debug({ remote: link.remote }, 'ws hello with a bad address; connection dropped');
      void link.terminate();
      return false;
    }
  }

  private onInboundReady(link: PeerLink): void {
    // Our own dial to ourselves: the outbound end does the sending.
    const usable = this.identify(link) && this.s.reuseInbound && link.peer?.instance !== this.instanceId && link.state === 'open' && this.state === 'listening';
    if (usable) this.table.attach(link);
    else this.table.unexpected(link);
  }

  private deliver(link: PeerLink, kind: number, payload: Uint8Array): void {
    if (this.state !== 'listening') return;
    const reliable = kind === KIND_RELIABLE;
    if (reliable) this.stats.reliableReceived++;
    else this.stats.packetsReceived++;
    try {
      this.receiver?.onMessage(payload, { from: link.from, reliable });
    } catch (err) {
      this.s.logger.warn({ err, from: link.from }, 'ws receiver threw; message discarded');
    }
  }

  private onLinkClosed(link: PeerLink): void {
    this.links.delete(link);
    this.table.detach(link, this.state === 'listening');
  }

  // ---- dialing ---------------------------------------------------------------------------------

  private startDial(peer: Peer): void {
    const wait = this.history.waitFor(peer.key, Date.now());
    if (wait > 0) {
      this.table.dialFailed(peer, unreachable(peer.key, `the last dial failed; next attempt in ${wait} ms`));
      return;
    }
    if (this.connectionCount >= this.s.maxConnections && !this.evictUnproductive() && !this.table.evictLeastRecentlyUsed()) {
      this.table.dialFailed(peer, new GrapevineError('ERR_LIMIT', `ws transport is at maxConnections (${this.s.maxConnections})`));
      return;
    }
    peer.dialing = true;
    peer.abortDial = dialLink(peer.key, this.dialContext, (err, link) => {
      if (err === SUPERSEDED) {
        this.stats.dialsSuperseded++;
        this.table.dialSuperseded(peer);
        return;
      }
      if (link === undefined) {
        const closed = this.state !== 'listening';
        if (!closed) this.history.failed(peer.key, Date.now());
        const error = err ?? unreachable(peer.key, 'dial failed');
        this.table.dialFailed(peer, closed ? new GrapevineError('ERR_CLOSED', 'ws transport closed', { cause: error }) : error);
        return;
      }
      this.stats.connectionsOpened++;
      if (this.history.succeeded(peer.key)) this.stats.reconnects++;
      if (this.state !== 'listening') {
        void link.terminate();
        this.table.dialFailed(peer, new GrapevineError('ERR_CLOSED', 'ws transport closed'));
        return;
      }
      this.table.dialSucceeded(peer, link);
    });
  }

  private async shutdown(): Promise<void> {
    this.state = 'closed';
    this.warnings.flush();
    for (const timer of this.ahead.values()) clearTimeout(timer);
    this.ahead.clear();
    await this.starting?.catch(() => undefined);
    this.s.server?.off('upgrade', this.upgradeListener);
    this.table.failAll(new GrapevineError('ERR_CLOSED', 'ws transport closed'));
    const waits: Promise<unknown>[] = [];
    const server = this.ownServer;
    this.ownServer = undefined;
    // The callback also runs (with an error we do not need) when the server never listened.
    if (server !== undefined) {
      waits.push(new Promise<void>((resolve) => server.close(() => resolve())));
      server.closeAllConnections();
    }
    for (const ws of [...this.dials]) ws.terminate();
    for (const link of [...this.links]) waits.push(link.retire(1001, 'transport closing'));
    await Promise.all(waits);
    this.table.clear();
    this.wss.close();
  }
}

/** The request header a dialing transport names its advertised URL in (lower case, as Node reports it). */
const FROM_HEADER = 'x-grapevine-from';
const MAX_CANONICAL = 4096;
