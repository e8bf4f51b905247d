import { randomBytes } from 'node:crypto';
import { isIP, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { GrapevineError, silentLogger, systemClock, type Cipher, type Clock, type Logger } from '@grapevine/core';
import { MAX_ANNOUNCEMENT_BYTES, fieldBytes, type OpeningKeys, type SealingKey } from './announcement.js';
import { parseSeed } from './seed.js';

export const DEFAULT_MULTICAST_GROUP = '239.0.0.1';
export const DEFAULT_MULTICAST_PORT = 7946;

export interface MulticastAuth {
  /** The AEAD that seals every announcement (the same Cipher interface the wire uses). */
  cipher: Cipher;
  /** Key announcements are sealed with (cipher.keyLength bytes). */
  key: Uint8Array;
  /**
   * A fresh nonce of cipher.nonceLength bytes per announcement. Default: random bytes, which is
   * safe even for 12-byte nonces at announcement rates (one per interval per node: 2^32
   * announcements under one key take a thousand nodes over 600 years at the default interval).
   */
  nonce?: () => Uint8Array;
  /** Older keys still accepted on receipt while keys rotate (never used to seal). */
  previousKeys?: readonly Uint8Array[];
}

export interface MulticastDiscoveryOptions {
  /** This node's gossip address, announced to others ("host:port"; a ws(s):// URL for WebSocket). */
  advertise: string;
  /** This node's name; announcements carrying it are our own and ignored. */
  name: string;
  /** Cluster label: announcements with another label are dropped. Default ''. */
  label?: string;
  /** Multicast group. Default 239.0.0.1 (an IPv6 group such as ff02::… opens an IPv6 socket). */
  group?: string;
  /**
   * UDP port of the group. Default 7946, as Warp Mesh: the same number as the gossip port, so on
   * one host the gossip transport must then bind another port (it does not share its socket).
   */
  port?: number;
  /**
   * Interface to join and send on: its IPv4 address, or its name ("eth0", "lo"), looked up when
   * the discovery is made (IPv6 groups: "::%eth0"). Default: the kernel's choice (the default route's).
   */
  interface?: string;
  /** Deliver our own datagrams to sockets on this host too, so nodes on one host see each other. Default true. */
  loopback?: boolean;
  /** Milliseconds between announcements (jittered ±10%). Default 5000. */
  announceInterval?: number;
  /** Multicast TTL (hops). Default 1: the local network only. */
  ttl?: number;
  /** Seal and authenticate announcements; unauthenticated ones are then dropped. */
  auth?: MulticastAuth;
  /** Most peers remembered at once; announcements from more are dropped and counted. Default 1024. */
  maxPeers?: number;
  /** A peer unheard for this many milliseconds is forgotten. Default 3 × announceInterval. */
  expiry?: number;
  /** With auth: an announcement whose timestamp is further than this from our clock is stale. Default 2 × announceInterval. */
  maxAge?: number;
  /** Time and timers (default the system clock, timers unref'd). */
  clock?: Clock;
  logger?: Logger;
}

export interface MulticastStats {
  /** Announcements sent (counted when the send completed). */
  sent: number;
  sendErrors: number;
  /** Datagrams received, of any kind. */
  received: number;
  /** Announcements from others taken in (including leaves). */
  accepted: number;
  /** Unreadable datagrams: wrong magic or version, truncated, oversized, a bad field or address. */
  malformed: number;
  /** Clear announcements while a key is set; sealed ones that no key opens (or any, without a key). */
  unauthenticated: number;
  /** With a key: timestamps outside maxAge, or older than one already seen from that node (replays). */
  stale: number;
  /** Announcements of another cluster label. */
  labelMismatch: number;
  /** Our own announcements, looped back. */
  self: number;
  /** New peers not taken because maxPeers were known. */
  overflow: number;
  /** Leave notices taken in. */
  left: number;
}

export interface MulticastPeer {
  name: string;
  addr: string;
  label: string;
  /** Our clock's time of the last announcement heard. */
  lastSeen: number;
  /** The sender's timestamp of that announcement. */
  ts: number;
}

function option(cond: boolean, message: string): void {
  if (!cond) throw new GrapevineError('ERR_INVALID_OPTION', `multicast discovery: ${message}`);
}

/** An IPv4 address as is, or the first IPv4 address of the interface of that name. */
function interfaceIPv4(iface: string): string {
  if (isIPv4(iface)) return iface;
  option(typeof iface === 'string' && iface.length > 0, `interface must be an IPv4 address or an interface name, got ${JSON.stringify(iface)}`);
  const list = networkInterfaces()[iface];
  option(list !== undefined, `no network interface named ${JSON.stringify(iface)}`);
  const v4 = list?.find((a) => a.family === 'IPv4' || (a.family as unknown) === 4);
  option(v4 !== undefined, `network interface ${JSON.stringify(iface)} has no IPv4 address`);
  return v4!.address;
}

function isMulticastGroup(group: string): boolean {
  if (isIPv4(group)) {
    const first = Number(group.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  return isIP(group) === 6 && /^ff/i.test(group);
}

/** MulticastDiscoveryOptions checked, with every default filled in. */
export interface MulticastConfig {
  nodeName: string;
  advertise: string;
  label: string;
  group: string;
  port: number;
  iface: string | undefined;
  loopback: boolean;
  interval: number;
  ttl: number;
  maxPeers: number;
  expiry: number;
  maxAge: number;
  seal: SealingKey | undefined;
  open: OpeningKeys | undefined;
  clock: Clock;
  logger: Logger;
}

/** Check every option (ERR_INVALID_OPTION, or ERR_INVALID_ADDRESS for a bad advertise) and fill in defaults. */
export function checkMulticastOptions(options: MulticastDiscoveryOptions): MulticastConfig {
  option(typeof options === 'object' && options !== null, 'options are required');
  const group = options.group ?? DEFAULT_MULTICAST_GROUP;
  option(isMulticastGroup(group), `group must be a multicast address (224.0.0.0/4 or ff00::/8), got ${JSON.stringify(group)}`);
  const port = options.port ?? DEFAULT_MULTICAST_PORT;
  option(Number.isInteger(port) && port >= 1 && port <= 65_535, `port must be an integer in 1..65535, got ${String(options.port)}`);
  const iface = options.interface === undefined || !isIPv4(group) ? options.interface : interfaceIPv4(options.interface);
  const loopback = options.loopback ?? true;
  const interval = options.announceInterval ?? 5000;
  option(Number.isFinite(interval) && interval >= 10, `announceInterval must be at least 10 ms, got ${String(options.announceInterval)}`);
  const ttl = options.ttl ?? 1;
  option(Number.isInteger(ttl) && ttl >= 0 && ttl <= 255, `ttl must be an integer in 0..255, got ${String(options.ttl)}`);
  const maxPeers = options.maxPeers ?? 1024;
  option(Number.isInteger(maxPeers) && maxPeers >= 1, `maxPeers must be a positive integer, got ${String(options.maxPeers)}`);
  const expiry = options.expiry ?? 3 * interval;
  option(Number.isFinite(expiry) && expiry > 0, `expiry must be a positive number of milliseconds, got ${String(options.expiry)}`);
  const maxAge = options.maxAge ?? 2 * interval;
  option(Number.isFinite(maxAge) && maxAge > 0, `maxAge must be a positive number of milliseconds, got ${String(options.maxAge)}`);

  option(typeof options.name === 'string', 'name is required');
  option(typeof options.advertise === 'string', 'advertise is required');
  const nodeName = options.name;
  const label = options.label ?? '';
  let nameLen = 0;
  let addrLen = 0;
  let labelLen = 0;
  try {
    nameLen = fieldBytes('name', nodeName, false).length;
    labelLen = fieldBytes('label', label, true).length;
  } catch (err) {
    option(false, (err as Error).message);
  }
  const adv = parseSeed(options.advertise);
  option(adv.kind === 'host' || adv.kind === 'url', `advertise must be host:port or a ws(s):// URL, got ${JSON.stringify(options.advertise)}`);
  const advertise = adv.kind === 'host' ? adv.address : adv.kind === 'url' ? adv.url : '';
  try {
    addrLen = fieldBytes('advertise', advertise, false).length;
  } catch (err) {
    option(false, (err as Error).message);
  }

  let seal: SealingKey | undefined;
  let open: OpeningKeys | undefined;
  if (options.auth !== undefined) {
    const { cipher, key, previousKeys = [] } = options.auth;
    option(typeof cipher?.seal === 'function' && typeof cipher.open === 'function', 'auth.cipher must be a Cipher');
    for (const k of [key, ...previousKeys]) {
      option(k instanceof Uint8Array && k.length === cipher.keyLength, `auth keys must be ${cipher.keyLength} bytes for ${cipher.name}`);
    }
    option(cipher.nonceLength >= 1 && cipher.nonceLength <= 255, `${cipher.name}: nonce length ${cipher.nonceLength} is not supported`);
    const nonce = options.auth.nonce ?? (() => new Uint8Array(randomBytes(cipher.nonceLength)));
    seal = { cipher, key, nonce };
    open = { cipher, keys: [key, ...previousKeys] };
  }
  const size = 6 + 8 + 3 + nameLen + addrLen + labelLen + (seal ? 2 + seal.cipher.nonceLength + seal.cipher.tagLength : 0);
  option(size <= MAX_ANNOUNCEMENT_BYTES, `an announcement would be ${size} bytes, over ${MAX_ANNOUNCEMENT_BYTES}`);

  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  return { nodeName, advertise, label, group, port, iface, loopback, interval, ttl, maxPeers, expiry, maxAge, seal, open, clock, logger };
}
