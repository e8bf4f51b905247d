/**
 * createCluster(): the batteries-included way to start a node on Node.js: UDP+TCP on one port,
 * msgpack on the wire, defaults like memberlist's.
 */
import { hostname } from 'node:os';
import {
  Cluster,
  GrapevineError,
  parseHostPort,
  type ClusterOptions,
  type Codec,
  type Logger,
  type Transport,
} from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { TcpTransport } from '@grapevine/transport-tcp';
import { UdpTcpTransport } from './udp-tcp-transport.js';

/** The default bind address: every interface, memberlist's port. */
export const DEFAULT_BIND = '0.0.0.0:7946';
export const DEFAULT_PORT = 7946;

/** A built-in transport by name, or any Transport instance. */
export type TransportChoice = 'udp+tcp' | 'tcp' | Transport;

export interface CreateClusterOptions extends Omit<ClusterOptions, 'transport' | 'codec' | 'name'> {
  /** Stable node name, unique in the cluster. Default: the host name. */
  name?: string;
  /** "host:port" to listen on (built-in transports). Default "0.0.0.0:7946"; port 0 picks a free port. */
  bind?: string;
  /** "host:port" peers should use to reach this node (NAT, containers). Default: the bound address. */
  advertise?: string;
  /** 'udp+tcp' (default, like memberlist), 'tcp' (TCP only), or a Transport instance. */
  transport?: TransportChoice;
  /** Wire codec. Default msgpack; every node of a cluster must use the same one. */
  codec?: Codec;
  /** Seeds to join at start: the same as `seeds`, and a single "host:port" is accepted too. */
  join?: string | string[];
}

export interface BuiltinTransportOptions {
  bind?: string;
  advertise?: string;
  packetBudget?: number;
  logger?: Logger;
}

/** Build (without starting) one of the built-in transports. */
export function createTransport(kind: 'udp+tcp' | 'tcp', opts: BuiltinTransportOptions = {}): UdpTcpTransport | TcpTransport {
  const bind = parseHostPort(opts.bind ?? DEFAULT_BIND, DEFAULT_PORT);
  const common = {
    bind,
    ...(opts.advertise !== undefined ? { advertise: opts.advertise } : {}),
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
  };
  if (kind === 'udp+tcp') {
    return new UdpTcpTransport({ ...common, ...(opts.packetBudget !== undefined ? { packetBudget: opts.packetBudget } : {}) });
  }
  if (kind === 'tcp') return new TcpTransport(common);
  throw new GrapevineError('ERR_INVALID_OPTION', `unknown transport "${String(kind)}" (udp+tcp, tcp)`);
}

/**
 * Start a node: bind the transport, start the protocol and, with `seeds`/`join`, join them. A
 * failed initial join is logged and retried by the cluster (it keeps re-contacting its seeds), so
 * this resolves once the join succeeded or gave up. Hold the result: `leave()` or `close()` it.
 */
export async function createCluster(options: CreateClusterOptions = {}): Promise<Cluster> {
  const { bind, advertise, transport: choice = 'udp+tcp', codec = msgpackCodec, join, seeds, name, ...rest } = options;
  let transport: Transport;
  let owned = false;
  if (typeof choice === 'string') {
    transport = createTransport(choice, {
      ...(bind !== undefined ? { bind } : {}),
      ...(advertise !== undefined ? { advertise } : {}),
      ...(rest.packetBudget !== undefined ? { packetBudget: rest.packetBudget } : {}),
      ...(rest.logger !== undefined ? { logger: rest.logger } : {}),
    });
    owned = true;
  } else if (choice && typeof choice === 'object' && typeof choice.start === 'function') {
    if (bind !== undefined || advertise !== undefined) {
      throw new GrapevineError('ERR_INVALID_OPTION', 'bind and advertise apply to the built-in transports; configure your Transport instance instead');
    }
    transport = choice;
  } else {
    throw new GrapevineError('ERR_INVALID_OPTION', 'option transport must be "udp+tcp", "tcp" or a Transport');
  }
  const allSeeds = [...(seeds ?? []), ...(join === undefined ? [] : typeof join === 'string' ? [join] : join)];
  try {
    return await Cluster.create({
      ...rest,
      name: name ?? hostname(),
      transport,
      codec,
      ...(allSeeds.length > 0 ? { seeds: [...new Set(allSeeds)] } : {}),
    });
  } catch (err) {
    if (owned) await transport.close().catch(() => undefined);
    throw err;
  }
}
