import { connect, type LookupFunction, type Socket } from 'node:net';
import { GrapevineError, formatHostPort, parseDialAddress, type HostPort } from '@grapevine/core';

import type { FramedConnection } from './framed-connection.js';

export interface PoolSettings {
  /** Give up connecting after this long (ms). */
  connectTimeout: number;
  /** Wraps a socket the moment it connects. */
  wrap(socket: Socket): FramedConnection;
  /** False when one more connection would pass the transport's connection limit. */
  hasRoom(): boolean;
  /** Closes an unproductive inbound connection to make room; false when there is none. */
  evictUnproductive(): boolean;
}

interface Entry {
  /** Set once connected. */
  conn: FramedConnection | undefined;
  /** The socket while connecting, so close() can abort it. */
  connecting: Socket | undefined;
  ready: Promise<FramedConnection>;
}

/**
 * Outbound connections: at most one per remote address, shared by every send to it, including sends
 * made while it is still connecting. Kept in least-recently-used order for eviction at the limit.
 */
export class ConnectionPool {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly settings: PoolSettings) {}

  /** Connections still being opened. */
  get connecting(): number {
    let n = 0;
    for (const entry of this.entries.values()) if (entry.conn === undefined) n++;
    return n;
  }

  /**
   * The pooled connection to `address`, opening one if needed. Rejects ERR_UNREACHABLE, or
   * ERR_INVALID_ADDRESS (synchronously settled, no socket made) when `address` is not "ip:port".
   */
  acquire(address: string): Promise<FramedConnection> {
    const existing = this.entries.get(address);
    if (existing !== undefined) {
      if (existing.conn === undefined) return existing.ready;
      this.entries.delete(address);
      if (existing.conn.writable) {
        this.entries.set(address, existing); // now the most recently used
        return existing.ready;
      }
    }
    let dest: HostPort;
    try {
      // Refused here, before a socket exists: an address that is not "ip:port" never reaches connect().
      dest = parseDialAddress(address, 'tcp: cannot connect to');
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.settings.hasRoom() && !this.settings.evictUnproductive()) this.evictLeastRecentlyUsed();
    return this.open(address, dest);
  }

  /**
   * Aborts connects in progress and forgets every entry; resolves once the aborted sockets closed.
   * Connected sockets are the transport's to destroy: it tracks them, pooled or not.
   */
  async abortAll(): Promise<void> {
    const aborted: Promise<void>[] = [];
    for (const entry of this.entries.values()) {
      if (entry.connecting !== undefined) aborted.push(destroySocket(entry.connecting));
    }
    this.entries.clear();
    await Promise.all(aborted);
  }

  private open(address: string, dest: HostPort): Promise<FramedConnection> {
    const socket = connect({ host: dest.host, port: dest.port, lookup: refuseLookup });
    // Before 'connect' the socket is silent, so its inactivity timeout is the connect timeout.
    socket.setTimeout(this.settings.connectTimeout);
    const entry: Entry = {
      conn: undefined,
      connecting: socket,
      ready: new Promise<FramedConnection>((resolve, reject) => {
        const cleanup = (): void => {
          socket.off('connect', onConnect);
          socket.off('error', onError);
          socket.off('timeout', onTimeout);
          socket.off('close', onClose);
          entry.connecting = undefined;
        };
        const fail = (reason: string, cause?: unknown): void => {
          cleanup();
          socket.destroy();
          if (this.entries.get(address) === entry) this.entries.delete(address);
          reject(new GrapevineError('ERR_UNREACHABLE', `tcp: cannot connect to ${formatHostPort(dest)}: ${reason}`, { cause }));
        };
        const onError = (err: NodeJS.ErrnoException): void => fail(err.code ?? err.message, err);
        const onTimeout = (): void => fail(`no connection within ${this.settings.connectTimeout} ms`);
        const onClose = (): void => fail('closed while connecting');
        const onConnect = (): void => {
          cleanup();
          // Wrapped synchronously, so the socket is never without an 'error' listener.
          const conn = this.settings.wrap(socket);
          entry.conn = conn;
          void conn.whenClosed.then(() => {
            if (this.entries.get(address) === entry) this.entries.delete(address);
          });
          resolve(conn);
        };
        socket.once('connect', onConnect);
        socket.once('error', onError);
        socket.once('timeout', onTimeout);
        socket.once('close', onClose);
      }),
    };
    this.entries.set(address, entry);
    return entry.ready;
  }

  private evictLeastRecentlyUsed(): void {
    for (const [address, entry] of this.entries) {
      if (entry.conn === undefined) continue;
      this.entries.delete(address);
      entry.conn.end();
      return;
    }
  }
}

/**
 * net.connect consults `lookup` only for a host that is not an IP literal, which parseDialAddress
 * already refused; should a name slip through anyway, the connect fails instead of querying DNS.
 */
const refuseLookup: LookupFunction = (hostname, _options, callback) => {
  const err: NodeJS.ErrnoException = new Error(`tcp: not resolving ${JSON.stringify(hostname.slice(0, 80))}: host names are never looked up when sending`);
  err.code = 'ENOTFOUND';
  process.nextTick(() => callback(err, '', 0));
};

function destroySocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed && socket.closed) resolve();
    else socket.once('close', () => resolve());
    socket.destroy();
  });
}
