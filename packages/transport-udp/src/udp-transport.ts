import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  GrapevineError,
  emptyTransportStats,
  formatHostPort,
  silentLogger,
  type HostPort,
  type Logger,
  type PacketTransport,
  type TransportReceiver,
  type TransportStats,
} from '@grapevine/core';
import { AddressCache, SenderNames } from './address-cache.js';

import { networkInterfaces } from 'node:os';
import { advertisedAddress, parseDialAddress } from '@grapevine/core';

/** The largest payload an IPv4 UDP datagram can carry. */
const MAX_UDP_PAYLOAD = 65_507;

export interface UdpTransportOptions {
  /** Where to listen; port 0 picks a free port (see `bindPort`). A host with ':' opens an IPv6 socket. */
  bind: HostPort;
  /**
   * "ip:port" to give peers instead of the bound address (NAT, containers). An IP literal: peers
   * never look names up when sending, so a host name here would make this node unreachable.
   */
  advertise?: string;
  /** Largest payload the protocol should put in one packet. Default 1400 (fits a 1500-byte MTU). */
  packetBudget?: number;
  /** Inbound datagrams larger than this are dropped. Default 65507. */
  maxPacketBytes?: number;
  /** Return false to drop an inbound datagram before the receiver sees it (benchmarks inject loss with it). */
  inboundFilter?: (data: Uint8Array, from: string) => boolean;
  logger?: Logger;
}

export type UdpTransportStats = TransportStats & {
  /** Inbound datagrams dropped by `inboundFilter`. */
  filtered: number;
  /**
   * Sends refused because the destination is not "ip:port" with a port in 1..65535 (a host name,
   * port 0, garbage); also counted in `sendErrors`. Nothing is looked up or sent for them.
   */
  badAddress: number;
};

type State = 'new' | 'starting' | 'listening' | 'closed';

/** Best-effort packets over node:dgram. */
export class UdpTransport implements PacketTransport {
  readonly packetBudget: number;
  readonly stats: UdpTransportStats = { ...emptyTransportStats(), filtered: 0, badAddress: 0 };

  private readonly bind: HostPort;
  private readonly maxPacketBytes: number;
  private readonly inboundFilter: ((data: Uint8Array, from: string) => boolean) | undefined;
  private readonly logger: Logger;
  private readonly addresses = new AddressCache();
  private readonly senders = new SenderNames();
  private advertise: string | undefined;
  private boundPort: number | undefined;
  private state: State = 'new';
  private socket: Socket | undefined;
  private receiver: TransportReceiver | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: UdpTransportOptions) {
    this.bind = checkBind(options.bind);
    this.packetBudget = checkSize('packetBudget', options.packetBudget, 1400);
    this.maxPacketBytes = checkSize('maxPacketBytes', options.maxPacketBytes, MAX_UDP_PAYLOAD);
    this.inboundFilter = options.inboundFilter;
    this.logger = options.logger ?? silentLogger;
    if (options.advertise !== undefined) this.advertise = formatHostPort(parseDialAddress(options.advertise, 'udp: cannot advertise'));
  }

  /** The advertised address, else the bound one; valid once start() resolved. */
  get address(): string {
    if (this.advertise === undefined) throw new GrapevineError('ERR_NOT_STARTED', 'udp transport is not started');
    return this.advertise;
  }

  /** The port the socket is bound to (the actual one when `bind.port` was 0). */
  get bindPort(): number {
    if (this.boundPort === undefined) throw new GrapevineError('ERR_NOT_STARTED', 'udp transport is not started');
    return this.boundPort;
  }

  async start(receiver: TransportReceiver): Promise<void> {
    if (this.state === 'closed') throw new GrapevineError('ERR_CLOSED', 'udp transport is closed');
    if (this.state !== 'new') throw new GrapevineError('ERR_INVALID_OPTION', 'udp transport already started');
    this.state = 'starting';
    this.receiver = receiver;
    const socket = createSocket({ type: this.bind.host.includes(':') ? 'udp6' : 'udp4' });
    this.socket = socket;
    this.starting = listen(socket, this.bind);
    try {
      await this.starting;
    } catch (err) {
      this.state = 'closed';
      throw err;
    }
    if (this.closing !== undefined) throw new GrapevineError('ERR_CLOSED', 'udp transport closed while starting');
    // Errors after bind are rare on UDP (send errors go to the send callback); never let one crash us.
    socket.on('error', (err) => this.logger.warn({ err }, 'udp socket error'));
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    const bound = socket.address();
    this.boundPort = bound.port;
    this.advertise ??= advertisedAddress(bound.address, bound.port, Object.values(networkInterfaces()));
    this.state = 'listening';
  }

  sendPacket(to: string, data: Uint8Array): void {
    const socket = this.socket;
    if (this.state !== 'listening' || socket === undefined || data.byteLength === 0) {
      this.stats.sendErrors++;
      return;
    }
    // Checked before node:dgram sees it: given a host name, dgram would run a DNS lookup.
    const dest = this.addresses.resolve(to);
    if (dest === undefined) {
      this.stats.sendErrors++;
      this.stats.badAddress++;
      this.logger.debug({ to: to.slice(0, 80) }, 'udp send refused: not an ip:port');
      return;
    }
    try {
      socket.send(data, dest.port, dest.host, this.afterSend);
    } catch (err) {
      // dgram throws synchronously for some bad arguments; none should get this far.
      this.stats.sendErrors++;
      this.logger.debug({ err, to }, 'udp send failed');
    }
  }

  /**
   * One callback for every send, not a closure per packet: node:dgram passes the bytes sent, and
   * the error carries the address and port. Sends are the hot path of a broadcast (one per
   * destination), and a closure each was garbage for the young generation.
   */
  private readonly afterSend = (err: Error | null, bytes?: number): void => {
    if (err) {
      this.stats.sendErrors++;
      this.logger.debug({ err }, 'udp send failed');
    } else {
      this.stats.packetsSent++;
      this.stats.packetBytesSent += bytes ?? 0;
    }
  };

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closed';
    await this.starting?.catch(() => undefined);
    const socket = this.socket;
    this.socket = undefined;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // already closed (a failed bind closes the socket)
      }
    });
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.byteLength === 0 || msg.byteLength > this.maxPacketBytes) {
      this.stats.dropped++;
      return;
    }
    const from = this.senders.format(rinfo.address, rinfo.port);
    try {
      if (this.inboundFilter !== undefined && !this.inboundFilter(msg, from)) {
        this.stats.filtered++;
        return;
      }
      this.stats.packetsReceived++;
      this.receiver?.onMessage(msg, { from, reliable: false });
    } catch (err) {
      this.logger.warn({ err, from }, 'udp receiver threw; datagram discarded');
    }
  }
}

function listen(socket: Socket, bind: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      try {
        socket.close();
      } catch {
        // the failed bind already closed it
      }
      const reason = err.code ?? err.message;
      reject(new GrapevineError('ERR_INVALID_ADDRESS', `udp: cannot bind ${formatHostPort(bind)}: ${reason}`, { cause: err }));
    };
    socket.once('error', onError);
    socket.bind({ address: bind.host, port: bind.port }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function checkBind(bind: HostPort): HostPort {
  if (!Number.isInteger(bind.port) || bind.port < 0 || bind.port > 65_535) {
    throw new GrapevineError('ERR_INVALID_OPTION', `bind port must be an integer in 0..65535, got ${String(bind.port)}`);
  }
  return { host: bind.host, port: bind.port };
}

function checkSize(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > MAX_UDP_PAYLOAD) {
    throw new GrapevineError('ERR_INVALID_OPTION', `${name} must be an integer in 1..${MAX_UDP_PAYLOAD}, got ${String(value)}`);
  }
  return value;
}
