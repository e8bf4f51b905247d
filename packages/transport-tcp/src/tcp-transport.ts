import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  GrapevineError,
  LogLimiter,
  emptyTransportStats,
  systemClock,
  formatHostPort,
  silentLogger,
  type HostPort,
  type Logger,
  type Transport,
  type TransportReceiver,
  type TransportStats,
} from '@grapevine/core';
import { ConnectionPool } from './connection-pool.js';


import { FramedConnection, type ConnectionEvents, type ConnectionSettings } from './framed-connection.js';
import { networkInterfaces } from 'node:os';
import { advertisedAddress, InboundPerPeer, parseDialAddress } from '@grapevine/core';

/** The length prefix is a 32-bit unsigned integer. */
const MAX_ENCODABLE_FRAME = 0xffff_ffff;

export interface TcpTransportOptions {
  /** Where to listen; port 0 picks a free port (see `bindPort`). */
  bind: HostPort;
  /**
   * "ip:port" to give peers instead of the bound address (NAT, containers). An IP literal: peers
   * never look names up when sending, so a host name here would make this node unreachable.
   */
  advertise?: string;
  /** Largest frame sent or accepted (bytes). Default 8 MiB. */
  maxFrameBytes?: number;
  /** Give up connecting to a peer after this long (ms). Default 2000. */
  connectTimeout?: number;
  /** Close a connection with no traffic for this long (ms; 0 never). Default 60000. */
  idleTimeout?: number;
  /** Drop a connection whose peer stalls in the middle of a frame for this long (ms). Default 10000. */
  readTimeout?: number;
  /**
   * Drop a connection whose frame has not completed this long after its first byte arrived (ms),
   * however steadily its bytes trickle in (counted in `frameTimeouts` and `dropped`). A frame of
   * `maxFrameBytes` (8 MiB) must arrive at 280 KB/s or more: raise it on slower links. Default 30000.
   */
  frameTimeout?: number;
  /**
   * Most connections, inbound and outbound together. At the limit a new inbound connection takes
   * the slot of the oldest unproductive inbound one (one that never completed a frame, else the one
   * whose last complete frame is oldest and over `readTimeout` ago; counted in `evicted`); with
   * none, it is refused (counted in `connectionsRejected`). A new outbound one evicts an
   * unproductive inbound connection the same way, else the least recently used outbound one.
   * Default 1024.
   */
  maxConnections?: number;
  /**
   * Most inbound connections open at once from one remote IP address; one more is closed at once
   * (counted in `connectionsRejected` and `perPeerRejected`). A member needs one (its pooled
   * connection to us), two while it replaces one; the rest of the default leaves room for a few
   * nodes sharing an address (NAT). 0 turns the cap off. Default 8.
   */
  maxInboundPerPeer?: number;
  /**
   * Leave loopback sources (127.0.0.0/8, ::1) out of `maxInboundPerPeer`: every node on this host
   * shares that address. Default true.
   */
  exemptLoopback?: boolean;
  /**
   * Warnings of one kind (a refused connection, a dropped one) are written at most once per this
   * many ms: the first at once, then one line saying how many more were suppressed (0: every
   * one). Default 60000.
   */
  warningInterval?: number;
  logger?: Logger;
}

export type TcpTransportStats = TransportStats & {
  /** Inbound connections accepted. (`connectionsOpened` counts the outbound ones.) */
  connectionsAccepted: number;
  /** Inbound connections refused at the connection limit, the per-peer limit or during close. */
  connectionsRejected: number;
  /** Of `connectionsRejected`, those refused because their IP was at `maxInboundPerPeer`. */
  perPeerRejected: number;
  /**
   * Sends refused because the destination is not "ip:port" with a port in 1..65535 (a host name,
   * port 0, garbage); also counted in `sendErrors`. Nothing is looked up or connected for them.
   */
  badAddress: number;
  /** Connections closed because their frame did not complete within `frameTimeout` (also in `dropped`). */
  frameTimeouts: number;
  /** Inbound connections closed at `maxConnections` to make room for a new one (unproductive ones). */
  evicted: number;
};

type State = 'new' | 'starting' | 'listening' | 'closed';

/**
 * Reliable messages over node:net as length-prefixed frames (4-byte big-endian length, then the
 * bytes), one pooled outbound connection per peer. Packets ride the same path: a TCP-only cluster
 * has no datagram budget, so `packetBudget` is the frame limit.
 */
export class TcpTransport implements Transport {
  readonly packetBudget: number;
  readonly stats: TcpTransportStats = {
    ...emptyTransportStats(),
    connectionsAccepted: 0,
    connectionsRejected: 0,
    perPeerRejected: 0,
    badAddress: 0,
    frameTimeouts: 0,
    evicted: 0,
  };

  private readonly bind: HostPort;
  private readonly maxConnections: number;
  private readonly perPeer: InboundPerPeer;
  private readonly logger: Logger;
  private readonly warnings: LogLimiter;
  private readonly settings: ConnectionSettings;
  private readonly events: ConnectionEvents = {
    onFrame: (frame, conn) => this.deliver(frame, conn.remote),
    onDrop: (conn, reason) => {
      this.stats.dropped++;
      if (reason.startsWith('frame not complete')) this.stats.frameTimeouts++;
      // The reasons are fixed strings of this package, so each is its own kind.
      this.warnings.warn(`drop ${reason}`, { remote: conn.remote, reason }, `tcp connection dropped: ${reason}`);
    },
  };
  private readonly pool: ConnectionPool;
  /** Every open connection, inbound or outbound, pooled or closing, so close() can reach them all. */
  private readonly live = new Set<FramedConnection>();
  private advertise: string | undefined;
  private boundPort: number | undefined;
  private state: State = 'new';
  private server: Server | undefined;
  private receiver: TransportReceiver | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: TcpTransportOptions) {
    if (!Number.isInteger(options.bind.port) || options.bind.port < 0 || options.bind.port > 65_535) {
      throw new GrapevineError('ERR_INVALID_OPTION', `bind port must be an integer in 0..65535, got ${String(options.bind.port)}`);
    }
    this.bind = { host: options.bind.host, port: options.bind.port };
    if (options.advertise !== undefined) this.advertise = formatHostPort(parseDialAddress(options.advertise, 'tcp: cannot advertise'));
    this.logger = options.logger ?? silentLogger;
    this.warnings = new LogLimiter(this.logger, systemClock, checkInt('warningInterval', options.warningInterval, 60_000, 0));
    this.maxConnections = checkInt('maxConnections', options.maxConnections, 1024, 1);
    this.perPeer = new InboundPerPeer(checkInt('maxInboundPerPeer', options.maxInboundPerPeer, 8, 0), options.exemptLoopback ?? true);
    this.settings = {
      maxFrameBytes: checkInt('maxFrameBytes', options.maxFrameBytes, 8 * 1024 * 1024, 1, MAX_ENCODABLE_FRAME),
      idleTimeout: checkInt('idleTimeout', options.idleTimeout, 60_000, 0),
      readTimeout: checkInt('readTimeout', options.readTimeout, 10_000, 1),
      frameTimeout: checkInt('frameTimeout', options.frameTimeout, 30_000, 1),
      logger: this.logger,
    };
    this.packetBudget = this.settings.maxFrameBytes;
    this.pool = new ConnectionPool({
      connectTimeout: checkInt('connectTimeout', options.connectTimeout, 2000, 1),
      wrap: (socket) => {
        this.stats.connectionsOpened++;
        return this.track(socket);
      },
      hasRoom: () => this.connectionCount < this.maxConnections,
      evictUnproductive: () => this.evictUnproductive(),
    });
  }

  /** The advertised address, else the bound one; valid once start() resolved. */
  get address(): string {
    if (this.advertise === undefined) throw new GrapevineError('ERR_NOT_STARTED', 'tcp transport is not started');
    return this.advertise;
  }

  /** The port the server listens on (the actual one when `bind.port` was 0). */
  get bindPort(): number {
    if (this.boundPort === undefined) throw new GrapevineError('ERR_NOT_STARTED', 'tcp transport is not started');
    return this.boundPort;
  }

  /** Bytes held for frames being received, over every connection (see FrameDecoder.bufferedBytes). */
  get bufferedBytes(): number {
    let n = 0;
    for (const conn of this.live) n += conn.bufferedBytes;
    return n;
  }

  /** Bytes of frames still being received (length prefixes included), over every connection. */
  get partialFrameBytes(): number {
    let n = 0;
    for (const conn of this.live) n += conn.partialFrameBytes;
    return n;
  }

  /** Memory objects (blocks) held for frames being received, over every connection. */
  get bufferedChunks(): number {
    let n = 0;
    for (const conn of this.live) n += conn.bufferedChunks;
    return n;
  }

  /** Connections open now, inbound and outbound, including ones connecting or closing. */
  get connectionCount(): number {
    return this.live.size + this.pool.connecting;
  }

  async start(receiver: TransportReceiver): Promise<void> {
    if (this.state === 'closed') throw new GrapevineError('ERR_CLOSED', 'tcp transport is closed');
    if (this.state !== 'new') throw new GrapevineError('ERR_INVALID_OPTION', 'tcp transport already started');
    this.state = 'starting';
    this.receiver = receiver;
    const server = createServer();
    this.server = server;
    server.on('connection', (socket) => this.accept(socket));
    this.starting = listen(server, this.bind);
    try {
      await this.starting;
    } catch (err) {
      this.state = 'closed';
      throw err;
    }
    if (this.closing !== undefined) throw new GrapevineError('ERR_CLOSED', 'tcp transport closed while starting');
    server.on('error', (err) => this.logger.warn({ err }, 'tcp server error'));
    const bound = server.address() as AddressInfo;
    this.boundPort = bound.port;
    this.advertise ??= advertisedAddress(bound.address, bound.port, Object.values(networkInterfaces()));
    this.state = 'listening';
  }

  sendReliable(to: string, data: Uint8Array): Promise<void> {
    return this.send(to, data).then(
      () => {
        this.stats.reliableSent++;
        this.stats.reliableBytesSent += data.byteLength;
      },
      (err: unknown) => {
        this.countSendError(err);
        throw err;
      },
    );
  }

  sendPacket(to: string, data: Uint8Array): void {
    this.send(to, data).then(
      () => {
        this.stats.packetsSent++;
        this.stats.packetBytesSent += data.byteLength;
      },
      (err: unknown) => {
        this.countSendError(err);
        this.logger.debug({ err, to: to.slice(0, 80) }, 'tcp packet send failed');
      },
    );
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private countSendError(err: unknown): void {
    this.stats.sendErrors++;
    if (err instanceof GrapevineError && err.code === 'ERR_INVALID_ADDRESS') this.stats.badAddress++;
  }

  private async send(to: string, data: Uint8Array): Promise<void> {
    if (this.closing !== undefined) throw new GrapevineError('ERR_CLOSED', 'tcp transport is closed');
    if (this.state !== 'listening') throw new GrapevineError('ERR_NOT_STARTED', 'tcp transport is not started');
    if (data.byteLength === 0) {
      // A zero length prefix is a framing error on the wire; refuse it here rather than lose the connection.
      throw new GrapevineError('ERR_LIMIT', 'tcp transport cannot send an empty message');
    }
    if (data.byteLength > this.settings.maxFrameBytes) {
      throw new GrapevineError('ERR_TOO_LARGE', `message of ${data.byteLength} bytes is over maxFrameBytes (${this.settings.maxFrameBytes})`);
    }
    try {
      const conn = await this.pool.acquire(to);
      await conn.write(data);
    } catch (err) {
      if (this.closing !== undefined) throw new GrapevineError('ERR_CLOSED', 'tcp transport closed', { cause: err });
      throw err;
    }
  }

  private accept(socket: Socket): void {
    const ip = socket.remoteAddress;
    if (this.closing !== undefined || ip === undefined) {
      this.stats.connectionsRejected++;
      socket.destroy();
      return;
    }
    if (!this.perPeer.tryAcquire(ip)) {
      this.stats.connectionsRejected++;
      this.stats.perPeerRejected++;
      // Rate-limited: a flood would otherwise flood the log too. The counter keeps the tally.
      this.warnings.warn('per-peer', { remote: ip, maxInboundPerPeer: this.perPeer.max }, 'tcp: inbound connection refused at maxInboundPerPeer; raise it if several nodes share an address');
      socket.destroy();
      return;
    }
    if (this.connectionCount >= this.maxConnections && !this.evictUnproductive()) {
      this.perPeer.release(ip);
      this.stats.connectionsRejected++;
      this.warnings.warn('max-connections', { remote: ip, maxConnections: this.maxConnections }, 'tcp: inbound connection refused at maxConnections (every connection is productive)');
      socket.destroy();
      return;
    }
    socket.once('close', () => this.perPeer.release(ip));
    this.stats.connectionsAccepted++;
    this.track(socket, true);
  }

  /**
   * At the connection limit, closes the oldest unproductive inbound connection so a newcomer (a
   * node joining) can take its slot: first those that never completed a frame (trickling a frame,
   * or silent), oldest first; then the one whose last complete frame is oldest, if that is more
   * than `readTimeout` ago. False when every inbound connection completed a frame recently.
   */
  private evictUnproductive(): boolean {
    const now = Date.now();
    let victim: FramedConnection | undefined;
    let victimRank = Infinity;
    for (const conn of this.live) {
      if (!conn.inbound || !conn.writable) continue; // outbound ones are ours; closing ones are going
      const last = conn.lastFrameAt;
      if (last !== undefined && now - last < this.settings.readTimeout) continue;
      // Never-productive ones rank before every productive one, each group oldest first.
      const rank = last === undefined ? conn.openedAt - 1e15 : last;
      if (rank < victimRank) {
        victim = conn;
        victimRank = rank;
      }
    }
    if (victim === undefined) return false;
    this.stats.evicted++;
    this.warnings.warn('evicted', { remote: victim.remote, maxConnections: this.maxConnections }, 'tcp: unproductive inbound connection closed at maxConnections to make room');
    void victim.destroy();
    return true;
  }

  private track(socket: Socket, inbound = false): FramedConnection {
    const conn = new FramedConnection(socket, this.settings, this.events, inbound);
    this.live.add(conn);
    void conn.whenClosed.then(() => this.live.delete(conn));
    return conn;
  }

  private deliver(frame: Uint8Array, from: string): void {
    this.stats.reliableReceived++;
    try {
      this.receiver?.onMessage(frame, { from, reliable: true });
    } catch (err) {
      this.logger.warn({ err, from }, 'tcp receiver threw; frame discarded');
    }
  }

  private async shutdown(): Promise<void> {
    this.state = 'closed';
    this.warnings.flush();
    await this.starting?.catch(() => undefined);
    const closing = [...this.live].map((conn) => conn.destroy());
    closing.push(this.pool.abortAll());
    const server = this.server;
    this.server = undefined;
    // The callback also runs (with an error we do not need) when the server never listened.
    if (server !== undefined) closing.push(new Promise((resolve) => server.close(() => resolve())));
    await Promise.all(closing);
  }
}

function listen(server: Server, bind: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const reason = err.code ?? err.message;
      reject(new GrapevineError('ERR_INVALID_ADDRESS', `tcp: cannot bind ${formatHostPort(bind)}: ${reason}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: bind.host, port: bind.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function checkInt(name: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new GrapevineError('ERR_INVALID_OPTION', `${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}
