/**
 * createCluster(): the batteries-included way to start a node on Node.js: UDP+TCP on one port,
 * msgpack on the wire, defaults like memberlist's; encryption (`keys`, `cipher`), compression
 * (`compress`) and a cluster `label` by name.
 */
import { hostname } from 'node:os';
import {
  Cluster,
  GrapevineError,
  parseHostPort,
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
import { UdpTcpTransport } from './udp-tcp-transport.js';

/** The default bind address: every interface, memberlist's port. */
export const DEFAULT_BIND = '0.0.0.0:7946';
export const DEFAULT_PORT = 7946;

/** A built-in transport by name, or any Transport instance. */
export type TransportChoice = 'udp+tcp' | 'tcp' | Transport;

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
  /** "host:port" peers should use to reach this node (NAT, containers). Default: the bound address. */
  advertise?: string;
  /** 'udp+tcp' (default, like memberlist), 'tcp' (TCP only), or a Transport instance. */
  transport?: TransportChoice;
  /** Wire codec. Default msgpack; every node of a cluster must use the same one. */
  codec?: Codec;
  /** Seeds to join at start: the same as `seeds`, and a single "host:port" is accepted too. */
  join?: string | string[];
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
  const { bind, advertise, transport: choice = 'udp+tcp', codec = msgpackCodec, join, seeds, name, keys, cipher, compress, encryption, compressor, ...rest } = options;
  // Checked before any socket is bound.
  const wire = wireOptions({ keys, cipher, compress, encryption, compressor, label: rest.label });
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
      ...wire,
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
