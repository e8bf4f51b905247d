import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import {
  GrapevineError,
  formatHostPort,
  formatRemoteAddress,
  type Clock,
  type Logger,
  type SeedProvider,
  type TimerHandle,
} from '@grapevine/core';
import { decodeAnnouncement, encodeAnnouncement, type Announcement, type OpeningKeys, type SealingKey } from './announcement.js';
import { checkMulticastOptions, type MulticastDiscoveryOptions, type MulticastPeer, type MulticastStats } from './multicast-options.js';
import { parseSeed } from './seed.js';
import { abortError } from './util.js';

type State = 'new' | 'starting' | 'running' | 'closed';

/**
 * Zero-configuration discovery on a LAN, Warp Mesh style: every node announces its gossip address
 * to a UDP multicast group on a timer and listens to the others'. resolve() returns the addresses
 * heard within `expiry`, never our own. With `auth`, announcements are sealed with an AEAD and
 * only those a key opens, and recent, count. Bad datagrams are dropped and counted, never thrown.
 */
export class MulticastDiscovery implements SeedProvider {
  readonly name: string;
  readonly nodeName: string;
  readonly advertise: string;
  readonly group: string;
  readonly port: number;
  readonly stats: MulticastStats = {
    sent: 0,
    sendErrors: 0,
    received: 0,
    accepted: 0,
    malformed: 0,
    unauthenticated: 0,
    stale: 0,
    labelMismatch: 0,
    self: 0,
    overflow: 0,
    left: 0,
  };

  private readonly label: string;
  private readonly iface: string | undefined;
  private readonly loopback: boolean;
  private readonly interval: number;
  private readonly ttl: number;
  private readonly maxPeers: number;
  private readonly expiry: number;
  private readonly maxAge: number;
  private readonly seal: SealingKey | undefined;
  private readonly open: OpeningKeys | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** Peers by name; a peer that said goodbye stays (left) until it expires, so replays of its older announcements stay stale. */
  private readonly known = new Map<string, MulticastPeer & { left: boolean }>();
  private state: State = 'new';
  private socket: Socket | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private lastSent = -Infinity;
  private sendFailing = false;

  constructor(options: MulticastDiscoveryOptions) {
    const c = checkMulticastOptions(options);
    this.nodeName = c.nodeName;
    this.advertise = c.advertise;
    this.label = c.label;
    this.group = c.group;
    this.port = c.port;
    this.iface = c.iface;
    this.loopback = c.loopback;
    this.interval = c.interval;
    this.ttl = c.ttl;
    this.maxPeers = c.maxPeers;
    this.expiry = c.expiry;
    this.maxAge = c.maxAge;
    this.seal = c.seal;
    this.open = c.open;
    this.clock = c.clock;
    this.logger = c.logger;
    this.name = `multicast ${formatHostPort({ host: this.group, port: this.port })}`;
  }

  /** True once the socket is bound and joined, until close(). */
  get running(): boolean {
    return this.state === 'running';
  }

  /**
   * Bind the port (shared: SO_REUSEADDR), join the group, announce at once and then every
   * interval. Rejects with ERR_UNREACHABLE when the port can't be bound or the group joined.
   */
  start(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new GrapevineError('ERR_CLOSED', 'multicast discovery is closed'));
    this.starting ??= this.doStart();
    return this.starting;
  }

  /** Addresses announced by others within `expiry`. Starts the listener on first use. Never rejects but on abort. */
  async resolve(signal?: AbortSignal): Promise<string[]> {
    if (signal?.aborted) throw abortError();
    if (this.state === 'closed') return [];
    if (this.state !== 'running') {
      try {
        await this.start();
      } catch (err) {
        this.logger.warn({ provider: this.name, err }, 'multicast discovery could not start; no seeds from it');
        return [];
      }
    }
    return [...new Set(this.peers().map((p) => p.addr))];
  }

  /** The peers heard within `expiry`, most recent first. */
  peers(): MulticastPeer[] {
    this.prune();
    return [...this.known.values()]
      .filter((p) => !p.left)
      .sort((a, b) => b.lastSeen - a.lastSeen)
      .map(({ name, addr, label, lastSeen, ts }) => ({ name, addr, label, lastSeen, ts }));
  }

  /** Announce now (besides the timer); a no-op unless running. */
  announce(): void {
    this.send(false);
  }

  /** Say goodbye (best effort), leave the group, close the socket. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async doStart(): Promise<void> {
    this.state = 'starting';
    const v6 = isIP(this.group) === 6;
    const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true });
    this.socket = socket;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port: this.port, address: v6 ? '::' : '0.0.0.0', exclusive: false }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.socket = undefined;
      closeQuietly(socket);
      if (!this.isClosed()) this.state = 'new';
      this.starting = undefined;
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      const hint =
        code === 'EADDRINUSE'
          ? ' (a socket without SO_REUSEADDR holds it — the gossip transport on the same port? Give one of them another port)'
          : '';
      throw new GrapevineError('ERR_UNREACHABLE', `multicast discovery: cannot bind UDP port ${this.port}: ${code}${hint}`, { cause: err });
    }
    try {
      socket.addMembership(this.group, this.iface);
      if (this.iface !== undefined) socket.setMulticastInterface(this.iface);
      socket.setMulticastLoopback(this.loopback);
      socket.setMulticastTTL(this.ttl);
    } catch (err) {
      this.socket = undefined;
      closeQuietly(socket);
      if (!this.isClosed()) this.state = 'new';
      this.starting = undefined;
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new GrapevineError(
        'ERR_UNREACHABLE',
        `multicast discovery: cannot join ${this.group}${this.iface ? ` on ${this.iface}` : ''}: ${code} (no multicast-capable interface or route?)`,
        { cause: err },
      );
    }
    if (this.isClosed()) {
      closeQuietly(socket);
      this.socket = undefined;
      throw new GrapevineError('ERR_CLOSED', 'multicast discovery closed while starting');
    }
    socket.unref(); // discovery alone never keeps a process alive
    socket.on('error', (err) => this.logger.warn({ provider: this.name, err }, 'multicast socket error'));
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    this.state = 'running';
    this.logger.info({ provider: this.name, advertise: this.advertise, interface: this.iface }, 'multicast discovery listening');
    this.send(false);
    this.schedule();
  }

  /** (A method, so TypeScript does not narrow `state` across the awaits in doStart.) */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private schedule(): void {
    if (this.state !== 'running') return;
    const delay = this.interval * (0.9 + 0.2 * Math.random());
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.send(false);
      this.schedule();
    }, delay);
  }

  private send(leave: boolean, done?: () => void): void {
    const socket = this.socket;
    if (this.state !== 'running' || socket === undefined) {
      done?.();
      return;
    }
    const now = this.clock.now();
    const a: Announcement = { name: this.nodeName, addr: this.advertise, label: this.label, ts: now, leave };
    let data: Uint8Array;
    try {
      data = encodeAnnouncement(a, this.seal);
    } catch (err) {
      this.stats.sendErrors++;
      this.logger.warn({ provider: this.name, err }, 'multicast announcement could not be sealed');
      done?.();
      return;
    }
    this.lastSent = now;
    try {
      socket.send(data, this.port, this.group, (err) => {
        if (err) this.onSendError(err);
        else {
          this.stats.sent++;
          if (this.sendFailing) {
            this.sendFailing = false;
            this.logger.info({ provider: this.name }, 'multicast announcements are being sent again');
          }
        }
        done?.();
      });
    } catch (err) {
      this.onSendError(err);
      done?.();
    }
  }

  private onSendError(err: unknown): void {
    this.stats.sendErrors++;
    if (!this.sendFailing) {
      this.sendFailing = true;
      this.logger.warn({ provider: this.name, err }, 'multicast announcement failed to send (no multicast route?); will keep trying');
    } else {
      this.logger.debug({ provider: this.name, err }, 'multicast announcement failed to send');
    }
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    this.stats.received++;
    try {
      this.take(msg, rinfo);
    } catch (err) {
      // Nothing below should throw; if it does, the datagram is bad, never the listener.
      this.stats.malformed++;
      this.logger.debug({ provider: this.name, err }, 'multicast datagram dropped');
    }
  }

  private take(msg: Uint8Array, rinfo: RemoteInfo): void {
    const res = decodeAnnouncement(msg, this.open);
    if (!res.ok) {
      this.stats[res.reason]++;
      this.logger.debug({ provider: this.name, from: rinfo.address, reason: res.reason }, 'multicast datagram dropped');
      return;
    }
    const a = res.announcement;
    if (a.name === this.nodeName || a.addr === this.advertise) {
      this.stats.self++;
      return;
    }
    const now = this.clock.now();
    const prev = this.known.get(a.name);
    if (this.open !== undefined) {
      // Only a sealed timestamp means anything: it bounds how long a captured datagram replays.
      if (Math.abs(now - a.ts) > this.maxAge || (prev !== undefined && a.ts < prev.ts)) {
        this.stats.stale++;
        return;
      }
    }
    if (a.label !== this.label) {
      this.stats.labelMismatch++;
      return;
    }
    const addr = this.normalizeAddr(a.addr, rinfo.address);
    if (addr === undefined) {
      this.stats.malformed++;
      return;
    }
    this.stats.accepted++;
    if (a.leave) {
      this.stats.left++;
      if (prev !== undefined && !prev.left) this.logger.debug({ provider: this.name, peer: a.name }, 'multicast peer left');
      if (prev !== undefined) this.known.set(a.name, { ...prev, left: true, lastSeen: now, ts: Math.max(prev.ts, a.ts) });
      return;
    }
    if (prev === undefined && this.known.size >= this.maxPeers) {
      this.prune();
      if (this.known.size >= this.maxPeers) {
        this.stats.overflow++;
        return;
      }
    }
    this.known.set(a.name, { name: a.name, addr, label: a.label, lastSeen: now, ts: a.ts, left: false });
    if (prev === undefined || prev.left || prev.addr !== addr) {
      this.logger.debug({ provider: this.name, peer: a.name, addr }, 'multicast peer heard');
      // Answer a newcomer soon rather than an interval later, at most four times per interval.
      if (now - this.lastSent >= this.interval / 4) this.send(false);
    }
  }

  /** The announced address, checked; a wildcard host ("0.0.0.0:7946") becomes the sender's IP. */
  private normalizeAddr(addr: string, source: string): string | undefined {
    let d;
    try {
      d = parseSeed(addr);
    } catch {
      return undefined;
    }
    if (d.kind === 'url') return d.url;
    if (d.kind !== 'host') return undefined;
    if (d.host === '0.0.0.0' || d.host === '::') return formatRemoteAddress(source, d.port);
    return d.address;
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [name, p] of this.known) {
      if (now - p.lastSeen > this.expiry) this.known.delete(name);
    }
  }

  private async shutdown(): Promise<void> {
    const wasRunning = this.state === 'running';
    this.timer?.cancel();
    this.timer = undefined;
    if (wasRunning) {
      // The goodbye goes out before the state flips; wait for it, briefly.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        t.unref();
        this.send(true, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.state = 'closed';
    await this.starting?.catch(() => undefined);
    const socket = this.socket;
    this.socket = undefined;
    this.known.clear();
    if (socket === undefined) return;
    try {
      socket.dropMembership(this.group, this.iface);
    } catch {
      // not joined (or already gone): closing the socket leaves the group anyway
    }
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}
