/**
 * createCluster(): the batteries-included way to start a node on Node.js: UDP+TCP on one port (or
 * TCP alone, or WebSocket), msgpack on the wire, defaults like memberlist's; encryption (`keys`,
 * `cipher`), compression (`compress`) and a cluster `label` by name; seeds in every discovery form
 * (DNS, SRV, ws URLs) kept current, and optional multicast discovery (seed-discovery.ts).
 */
import { hostname } from 'node:os';
import {
  Cluster,
  GrapevineError,
  type Cipher,
  type ClusterOptions,
  type Codec,
  type Compressor,
  type Logger,
  type Transport,
} from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { snappyCompressor } from '@grapevine/compress-snappy';
import { Keyring, aes256gcm, createNonceSource, xchacha20poly1305 } from '@grapevine/crypto';
import { TcpTransport } from '@grapevine/transport-tcp';
import type { WsTransport } from '@grapevine/transport-ws';
import { checkListenAddress } from './listen-address.js';
import { defaultLogger } from './default-logger.js';
import { checkMulticastOption, type MulticastChoice } from './multicast-option.js';
import { DEFAULT_SEED_REFRESH_INTERVAL, SeedDiscovery } from './seed-discovery.js';
import { checkDnsOption, checkSeeds, type SeedDnsOptions } from './seeds.js';
import { UdpTcpTransport } from './udp-tcp-transport.js';
import { createWsTransport, type WsClusterOptions } from './ws-option.js';
import { toClusterStream, type ClusterStream } from './cluster-stream.js';

/** A cluster whose streams are Node Duplex streams (what createCluster returns). */
export type NodeCluster = Cluster<ClusterStream>;

/** The default bind address: every interface, memberlist's port. */
export const DEFAULT_BIND = '0.0.0.0:7946';
export const DEFAULT_PORT = 7946;

/** A built-in transport by name, or any Transport instance. */
export type TransportChoice = 'udp+tcp' | 'tcp' | 'ws' | Transport;
/** The built-in transports by name. */
export type TransportName = 'udp+tcp' | 'tcp' | 'ws';
const TRANSPORT_NAMES: readonly string[] = ['udp+tcp', 'tcp', 'ws'];

/** The AEAD ciphers by name. Every node of a cluster must use the same one. */
export type CipherName = 'xchacha20-poly1305' | 'aes-256-gcm';
export const CIPHERS: Readonly<Record<CipherName, Cipher>> = Object.freeze({
  'xchacha20-poly1305': xchacha20poly1305,
  'aes-256-gcm': aes256gcm,
});
/** The compressors by name ('none' = send bodies as they are). */
export type CompressName = 'snappy' | 'none';
export const COMPRESSORS: Readonly<Record<CompressName, Compressor | undefined>> = Object.freeze({
  snappy: snappyCompressor,
  none: undefined,
});

export interface CreateClusterOptions extends Omit<ClusterOptions, 'transport' | 'codec' | 'name'> {
  /** Stable node name, unique in the cluster. Default: the host name. */
  name?: string;
  /** "host:port" to listen on (built-in transports). Default "0.0.0.0:7946"; port 0 picks a free port. */
  bind?: string;
  /**
   * "host:port" peers should use to reach this node (NAT, containers). Default: the bound address.
   * With transport 'ws' also a ws:// or wss:// URL (a proxy or load balancer in front).
   */
  advertise?: string;
  /** 'udp+tcp' (default, like memberlist), 'tcp' (TCP only), 'ws' (WebSocket only), or a Transport instance. */
  transport?: TransportChoice;
  /** Transport 'ws': path, bearer token, TLS, an http(s) server to mount on, limits (see ws-option.ts). */
  ws?: WsClusterOptions;
  /** Wire codec. Default msgpack; every node of a cluster must use the same one. */
  codec?: Codec;
  /**
   * Seeds to join at start: the same as `seeds`, and a single address is accepted too. Both take
   * host:port, host, [v6]:port, dns://name:port, dns+srv://_service._proto.name and ws(s):// URLs.
   */
  join?: string | string[];
  /** DNS seeds (and host names) are looked up again this often (ms), and at once when a member dies or leaves. Default 30000. */
  seedRefreshInterval?: number;
  /** DNS servers, resolver, timeout and address family for DNS seeds. Default: the system's resolver. */
  dns?: SeedDnsOptions;
  /** Find and join peers on the local network by UDP multicast announcements. Default off. */
  multicast?: MulticastChoice;
  /**
   * Encrypt and authenticate every envelope with these 32-byte keys (the first is the primary,
   * which seals; every key opens), or with a Keyring you keep a handle on to rotate keys at runtime
   * (`createKeyring`). Without keys the cluster runs in the clear. Every node needs a common key.
   */
  keys?: readonly Uint8Array[] | Keyring;
  /** The AEAD used with `keys`. Default 'xchacha20-poly1305'; every node must use the same one. */
  cipher?: CipherName;
  /**
   * Compress bodies longer than `compressThreshold` (256 bytes) with snappy, or not: 'none' (the
   * default). Every node must use the same setting.
   */
  compress?: CompressName;
}

/**
 * A keyring for `createCluster({keys})`: the first key is the primary. Keep it to rotate keys on
 * the running node: `install(newKey)` everywhere, then `use(newKey)` everywhere, then
 * `remove(oldKey)` everywhere (see the README).
 */
export function createKeyring(keys: readonly Uint8Array[]): Keyring {
  return new Keyring(keys);
}

type EncryptionOption = NonNullable<ClusterOptions['encryption']>;

/** The `encryption` and `compressor` core options that `keys`, `cipher` and `compress` stand for. */
export function wireOptions(opts: Pick<CreateClusterOptions, 'keys' | 'cipher' | 'compress' | 'encryption' | 'compressor' | 'label'>): {
  encryption?: EncryptionOption;
  compressor?: Compressor;
} {
  const { keys, cipher: cipherName, compress, encryption, compressor, label } = opts;
  const invalid = (msg: string): never => {
    throw new GrapevineError('ERR_INVALID_OPTION', msg);
  };
  if (label !== undefined) {
    if (typeof label !== 'string') invalid('option label must be a string');
    if (Buffer.byteLength(label as string, 'utf8') > 255) invalid('option label must be at most 255 bytes of UTF-8');
  }
  const out: { encryption?: EncryptionOption; compressor?: Compressor } = {};
  if (compress !== undefined) {
    if (compressor !== undefined) invalid('give either compress or compressor, not both');
    if (!Object.hasOwn(COMPRESSORS, compress)) invalid(`option compress must be "snappy" or "none", got ${JSON.stringify(compress)}`);
    const c = COMPRESSORS[compress];
    if (c) out.compressor = c;
  } else if (compressor !== undefined) {
    out.compressor = compressor;
  }
  if (cipherName !== undefined) {
    if (!Object.hasOwn(CIPHERS, cipherName)) invalid(`option cipher must be "xchacha20-poly1305" or "aes-256-gcm", got ${JSON.stringify(cipherName)}`);
    if (keys === undefined) invalid('option cipher needs keys');
  }
  if (keys !== undefined) {
    if (encryption !== undefined) invalid('give either keys or encryption, not both');
    let keyring: Keyring;
    if (Array.isArray(keys)) keyring = new Keyring(keys);
    else if (isKeyring(keys)) keyring = keys;
    else return invalid('option keys must be an array of 32-byte keys or a Keyring');
    const cipher = CIPHERS[cipherName ?? 'xchacha20-poly1305'];
    const nonces = createNonceSource(cipher);
    out.encryption = { cipher, keyring, nextNonce: () => nonces.next() };
  } else if (encryption !== undefined) {
    out.encryption = encryption;
  }
  return out;
}

function isKeyring(v: unknown): v is Keyring {
  if (v instanceof Keyring) return true;
  const k = v as Partial<Keyring> | null;
  return typeof k === 'object' && k !== null && typeof k.lookup === 'function' && typeof k.primary === 'object';
}

export interface BuiltinTransportOptions {
  bind?: string;
  advertise?: string;
  packetBudget?: number;
  /** Transport 'ws' only. */
  ws?: WsClusterOptions;
  logger?: Logger;
}

/** Build (without starting) one of the built-in transports. */
export function createTransport(kind: TransportName, opts: BuiltinTransportOptions = {}): UdpTcpTransport | TcpTransport | WsTransport {
  if (opts.ws !== undefined && kind !== 'ws') throw new GrapevineError('ERR_INVALID_OPTION', `option ws applies to transport 'ws', not '${String(kind)}'`);
  if (opts.bind !== undefined && !/^wss?:\/\//i.test(opts.bind)) checkListenAddress('bind', opts.bind, DEFAULT_PORT);
  if (kind === 'ws') {
    return createWsTransport({ bind: opts.bind, advertise: opts.advertise, defaultBind: DEFAULT_BIND, defaultPort: DEFAULT_PORT, ws: opts.ws, logger: opts.logger });
  }
  const bind = checkListenAddress('bind', opts.bind ?? DEFAULT_BIND, DEFAULT_PORT);
  if (opts.advertise !== undefined) checkListenAddress('advertise', opts.advertise);
  const common = {
    bind,
    ...(opts.advertise !== undefined ? { advertise: opts.advertise } : {}),
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
  };
  if (kind === 'udp+tcp') {
    return new UdpTcpTransport({ ...common, ...(opts.packetBudget !== undefined ? { packetBudget: opts.packetBudget } : {}) });
  }
  if (kind === 'tcp') return new TcpTransport(common);
  throw new GrapevineError('ERR_INVALID_OPTION', `unknown transport "${String(kind)}" (udp+tcp, tcp, ws)`);
}

/**
 * Start a node: bind the transport, start the protocol and, with `seeds`/`join`, resolve them (DNS
 * included) and join them. A failed initial join is logged and retried (the cluster keeps
 * re-contacting its seeds, and DNS seeds are looked up again), so this resolves once the join
 * succeeded or gave up. Hold the result: `leave()` or `close()` it.
 */
export async function createCluster(options: CreateClusterOptions = {}): Promise<NodeCluster> {
  const { bind, advertise, transport: choice = 'udp+tcp', ws, codec = msgpackCodec, join, seeds, seedRefreshInterval, dns, multicast, name, keys, cipher, compress, encryption, compressor, ...rest } = options;
  // Checked before any socket is bound.
  const wire = wireOptions({ keys, cipher, compress, encryption, compressor, label: rest.label });
  const custom = typeof choice !== 'string';
  if (!custom && !TRANSPORT_NAMES.includes(choice)) {
    throw new GrapevineError('ERR_INVALID_OPTION', `option transport must be "udp+tcp", "tcp", "ws" or a Transport, got ${JSON.stringify(choice)}`);
  }
  const list = (v: unknown, name: string): string[] => {
    if (v === undefined) return [];
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v)) throw new GrapevineError('ERR_INVALID_OPTION', `option ${name} must be an address or an array of addresses`);
    return v as string[];
  };
  const allSeeds = [...list(seeds, 'seeds'), ...list(join, 'join')];
  const checkedSeeds = checkSeeds([...new Set(allSeeds)], custom ? 'custom' : choice);
  checkDnsOption(dns);
  const multicastOption = checkMulticastOption(multicast);
  const refreshInterval = seedRefreshInterval ?? DEFAULT_SEED_REFRESH_INTERVAL;
  if (typeof refreshInterval !== 'number' || !Number.isFinite(refreshInterval) || refreshInterval < 100) {
    throw new GrapevineError('ERR_INVALID_OPTION', `option seedRefreshInterval must be a number of milliseconds, at least 100, got ${String(seedRefreshInterval)}`);
  }
  const nodeName = name ?? hostname();
  const logger = rest.logger ?? defaultLogger(nodeName);
  rest.logger = logger;
  let transport: Transport;
  let owned = false;
  if (!custom) {
    transport = createTransport(choice, {
      ...(bind !== undefined ? { bind } : {}),
      ...(advertise !== undefined ? { advertise } : {}),
      ...(rest.packetBudget !== undefined && choice !== 'ws' ? { packetBudget: rest.packetBudget } : {}),
      ...(ws !== undefined ? { ws } : {}),
      ...(rest.logger !== undefined ? { logger: rest.logger } : {}),
    });
    owned = true;
  } else if (choice && typeof choice === 'object' && typeof choice.start === 'function') {
    if (bind !== undefined || advertise !== undefined || ws !== undefined) {
      throw new GrapevineError('ERR_INVALID_OPTION', 'bind, advertise and ws apply to the built-in transports; configure your Transport instance instead');
    }
    transport = choice;
  } else {
    throw new GrapevineError('ERR_INVALID_OPTION', 'option transport must be "udp+tcp", "tcp", "ws" or a Transport');
  }
  let cluster: NodeCluster;
  try {
    // Seeds are joined by SeedDiscovery below, once the node's own address is known.
    cluster = await Cluster.create<ClusterStream>({ ...rest, ...wire, name: nodeName, transport, codec, wrapStream: toClusterStream });
  } catch (err) {
    if (owned) await transport.close().catch(() => undefined);
    throw err;
  }
  if (checkedSeeds.length > 0 || multicastOption !== undefined) {
    try {
      await SeedDiscovery.start(cluster, {
        seeds: checkedSeeds,
        dns,
        refreshInterval,
        multicast: multicastOption,
        encryption: wire.encryption,
        label: rest.label,
        logger,
      });
    } catch (err) {
      await cluster.close().catch(() => undefined);
      throw err;
    }
  }
  return cluster;
}
