/**
 * memberlist's default network: UDP for best-effort packets and TCP for reliable messages, both on
 * one port number, so a node has one address ("host:port") for everything.
 */
import {
  GrapevineError,
  emptyTransportStats,
  formatHostPort,
  parseHostPort,
  silentLogger,
  type HostPort,
  type Logger,
  type Transport,
  type TransportReceiver,
  type TransportStats,
} from '@grapevine/core';
import { TcpTransport, type TcpTransportOptions, type TcpTransportStats } from '@grapevine/transport-tcp';
import { UdpTransport, type UdpTransportStats } from '@grapevine/transport-udp';

/** TcpTransport options a UdpTcpTransport hands to its TCP half unchanged (documented there). */
const TCP_PASS_THROUGH = ['maxFrameBytes', 'connectTimeout', 'idleTimeout', 'readTimeout', 'frameTimeout', 'maxConnections', 'maxInboundPerPeer', 'exemptLoopback', 'warningInterval'] as const;

export interface UdpTcpTransportOptions extends Pick<TcpTransportOptions, (typeof TCP_PASS_THROUGH)[number]> {
  /** Where to listen, as {host, port} or "host:port". Port 0 picks a free port for both (see `bindPort`). */
  bind: HostPort | string;
  /** "ip:port" to give peers instead of the bound address (NAT, containers); not a host name (peers never look one up). */
  advertise?: string;
  /** Largest UDP payload the protocol should put in one packet. Default 1400. */
  packetBudget?: number;
  /** Inbound datagrams larger than this are dropped. Default 65507. */
  maxPacketBytes?: number;
  /** Return false to drop an inbound datagram before the protocol sees it (benchmarks inject loss). */
  inboundFilter?: (data: Uint8Array, from: string) => boolean;
  /**
   * With an ephemeral port, TCP picks the port and UDP may find it taken; then both close and
   * try again, at most this many times. Default 10.
   */
  bindAttempts?: number;
  logger?: Logger;
}

/**
 * The counters of both halves summed, `filtered`, and the TCP half's own counters (as
 * TcpTransportStats describes them; `badAddress` counts refused UDP and TCP sends alike).
 */
export type UdpTcpTransportStats = TransportStats & {
  /** Inbound datagrams dropped by `inboundFilter`. */
  filtered: number;
} & Pick<TcpTransportStats, 'connectionsAccepted' | 'connectionsRejected' | 'perPeerRejected' | 'badAddress' | 'frameTimeouts' | 'evicted'>;

const STAT_KEYS = Object.keys(emptyTransportStats()) as (keyof TransportStats)[];

type State = 'new' | 'starting' | 'listening' | 'closed';

export class UdpTcpTransport implements Transport {
  readonly packetBudget: number;
  private readonly bind: HostPort;
  private readonly advertise: string | undefined;
  private readonly options: UdpTcpTransportOptions;
  private readonly logger: Logger;
  private readonly bindAttempts: number;
  private udp: UdpTransport | undefined;
  private tcp: TcpTransport | undefined;
  private state: State = 'new';
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private notStartedErrors = 0;

  constructor(options: UdpTcpTransportOptions) {
    this.options = options;
    this.bind = typeof options.bind === 'string' ? parseHostPort(options.bind) : { host: options.bind.host, port: options.bind.port };
    if (!Number.isInteger(this.bind.port) || this.bind.port < 0 || this.bind.port > 65_535) {
      throw new GrapevineError('ERR_INVALID_OPTION', `bind port must be an integer in 0..65535, got ${String(this.bind.port)}`);
    }
    this.advertise = options.advertise === undefined ? undefined : formatHostPort(parseHostPort(options.advertise));
    this.logger = options.logger ?? silentLogger;
    const attempts = options.bindAttempts ?? 10;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new GrapevineError('ERR_INVALID_OPTION', `bindAttempts must be a positive integer, got ${String(attempts)}`);
    }
    this.bindAttempts = attempts;
    // Construct one UDP transport now so option errors (packetBudget ...) surface at construction;
    // a TCP one too, thrown away (it opens nothing until started), for its options.
    this.udp = this.newUdp(this.bind.port);
    this.newTcp();
    this.packetBudget = this.udp.packetBudget;
  }

  /** The advertised address, else the bound one (a wildcard bind advertises the first external IPv4). */
  get address(): string {
    if (this.state !== 'listening' || !this.tcp) throw new GrapevineError('ERR_NOT_STARTED', 'udp+tcp transport is not started');
    return this.tcp.address;
  }

  /** The one port both sockets are bound to. */
  get bindPort(): number {
    if (this.state !== 'listening' || !this.tcp) throw new GrapevineError('ERR_NOT_STARTED', 'udp+tcp transport is not started');
    return this.tcp.bindPort;
  }

  /** Counters of both halves, summed; plus the UDP filter and TCP accept counters. */
  get stats(): UdpTcpTransportStats {
    const udp: Partial<UdpTransportStats> = this.udp?.stats ?? {};
    const tcp: Partial<TcpTransportStats> = this.tcp?.stats ?? {};
    const out = {
      ...emptyTransportStats(),
      filtered: udp.filtered ?? 0,
      connectionsAccepted: tcp.connectionsAccepted ?? 0,
      connectionsRejected: tcp.connectionsRejected ?? 0,
      perPeerRejected: tcp.perPeerRejected ?? 0,
      badAddress: (udp.badAddress ?? 0) + (tcp.badAddress ?? 0),
      frameTimeouts: tcp.frameTimeouts ?? 0,
      evicted: tcp.evicted ?? 0,
    };
    for (const k of STAT_KEYS) out[k] = (udp[k] ?? 0) + (tcp[k] ?? 0);
    out.sendErrors += this.notStartedErrors;
    return out;
  }

  start(receiver: TransportReceiver): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new GrapevineError('ERR_CLOSED', 'udp+tcp transport is closed'));
    if (this.state !== 'new') return Promise.reject(new GrapevineError('ERR_INVALID_OPTION', 'udp+tcp transport already started'));
    this.state = 'starting';
    this.starting = this.bindBoth(receiver).then(
      () => {
        if (this.closing !== undefined) throw new GrapevineError('ERR_CLOSED', 'udp+tcp transport closed while starting');
        this.state = 'listening';
      },
      (err: unknown) => {
        this.state = 'closed';
        throw err;
      },
    );
    return this.starting;
  }

  private async bindBoth(receiver: TransportReceiver): Promise<void> {
    const ephemeral = this.bind.port === 0;
    for (let attempt = 1; ; attempt++) {
      const tcp = this.newTcp();
      this.tcp = tcp;
      await tcp.start(receiver); // a fixed port already taken fails here, and that is final
      const port = tcp.bindPort;
      const udp = attempt === 1 && !ephemeral && this.udp ? this.udp : this.newUdp(port);
      this.udp = udp;
      try {
        await udp.start(receiver);
        return;
      } catch (err) {
        await tcp.close();
        this.tcp = undefined;
        if (ephemeral && isAddressInUse(err) && attempt < this.bindAttempts && this.closing === undefined) {
          this.logger.debug({ port, attempt }, 'udp port taken; picking another port for both');
          continue;
        }
        throw err;
      }
    }
  }

  sendPacket(to: string, data: Uint8Array): void {
    if (this.state !== 'listening' || !this.udp) {
      this.notStartedErrors++;
      return;
    }
    this.udp.sendPacket(to, data);
  }

  sendReliable(to: string, data: Uint8Array): Promise<void> {
    if (this.state !== 'listening' || !this.tcp) {
      this.notStartedErrors++;
      const code = this.state === 'closed' ? 'ERR_CLOSED' : 'ERR_NOT_STARTED';
      return Promise.reject(new GrapevineError(code, `udp+tcp transport is ${this.state === 'closed' ? 'closed' : 'not started'}`));
    }
    return this.tcp.sendReliable(to, data);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const wasNew = this.state === 'new';
    this.state = 'closed';
    await this.starting?.catch(() => undefined);
    if (wasNew) return;
    await Promise.all([this.udp?.close(), this.tcp?.close()]);
  }

  private newTcp(): TcpTransport {
    const o = this.options;
    const passed: Pick<TcpTransportOptions, (typeof TCP_PASS_THROUGH)[number]> = {};
    for (const key of TCP_PASS_THROUGH) if (o[key] !== undefined) Object.assign(passed, { [key]: o[key] });
    return new TcpTransport({
      ...passed,
      bind: this.bind,
      ...(this.advertise !== undefined ? { advertise: this.advertise } : {}),
      logger: this.logger,
    });
  }

  private newUdp(port: number): UdpTransport {
    const o = this.options;
    return new UdpTransport({
      bind: { host: this.bind.host, port },
      ...(this.advertise !== undefined ? { advertise: this.advertise } : {}),
      ...(o.packetBudget !== undefined ? { packetBudget: o.packetBudget } : {}),
      ...(o.maxPacketBytes !== undefined ? { maxPacketBytes: o.maxPacketBytes } : {}),
      ...(o.inboundFilter !== undefined ? { inboundFilter: o.inboundFilter } : {}),
      logger: this.logger,
    });
  }
}

function isAddressInUse(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') return true;
  }
  return false;
}
