import { GrapevineError } from './errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parse "host:port", "[v6]:port" or "host" (with a default port). Throws ERR_INVALID_ADDRESS. */
export function parseHostPort(input: string, defaultPort?: number): HostPort {
  const s = input.trim();
  let host: string;
  let portStr: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) throw new GrapevineError('ERR_INVALID_ADDRESS', `invalid address "${input}": missing ]`);
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) throw new GrapevineError('ERR_INVALID_ADDRESS', `invalid address "${input}"`);
      portStr = rest.slice(1);
    }
  } else {
    const first = s.indexOf(':');
    if (first >= 0 && first === s.lastIndexOf(':')) {
      host = s.slice(0, first);
      portStr = s.slice(first + 1);
    } else if (first >= 0) {
      host = s; // bare IPv6 without brackets and without port
    } else {
      host = s;
    }
  }
  // Brackets only delimit an IPv6 literal; inside a host they would not survive formatHostPort.
  if (host.length === 0 || host.length > 253 || /[\s/[\]]/.test(host)) {
    throw new GrapevineError('ERR_INVALID_ADDRESS', `invalid address "${input}": bad host`);
  }
  let port: number;
  if (portStr === undefined) {
    if (defaultPort === undefined) throw new GrapevineError('ERR_INVALID_ADDRESS', `invalid address "${input}": missing port`);
    port = defaultPort;
  } else {
    if (!/^\d{1,5}$/.test(portStr)) throw new GrapevineError('ERR_INVALID_ADDRESS', `invalid address "${input}": bad port`);
    port = Number(portStr);
    if (port > 65535) throw new GrapevineError('ERR_INVALID_ADDRESS', `invalid address "${input}": port out of range`);
  }
  return { host, port };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * True for an IPv4 dotted quad or an IPv6 literal, the forms a socket connects to without a DNS
 * lookup. Shorthands that getaddrinfo would accept ("127.1", "0x7f000001") are not IP literals
 * here. IPv6 is checked by the WHATWG URL parser (a global, so the core stays free of node:).
 */
export function isIpLiteral(host: string): boolean {
  if (IPV4.test(host)) return true;
  if (!host.includes(':') || !/^[0-9a-fA-F:.]+$/.test(host)) return false;
  try {
    new URL(`http://[${host}]/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The destination of a send, or ERR_INVALID_ADDRESS. Only an IP literal with a port in 1..65535 is
 * accepted: node:dgram and net.connect resolve any other host with a DNS lookup, and in a cluster
 * without encryption anyone can gossip a member whose address is a host name of their choosing
 * (a lookup storm, a probe of internal DNS, a slow resolver stalling the libuv threadpool). Names
 * an operator gives (seeds) are resolved before they reach a transport, by discovery at join.
 */
export function parseDialAddress(address: string, what: string): HostPort {
  const dest = parseHostPort(address);
  if (!isIpLiteral(dest.host)) {
    throw new GrapevineError('ERR_INVALID_ADDRESS', `${what} ${quoteUntrusted(address)}: the host is not an IP address (names are never looked up when sending)`);
  }
  if (dest.port === 0) throw new GrapevineError('ERR_INVALID_ADDRESS', `${what} ${quoteUntrusted(address)}: port 0`);
  return dest;
}

/** Attacker-chosen text in a message: bounded, escaped. */
function quoteUntrusted(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/**
 * "host:port" for a socket's peer. A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6
 * ("::ffff:10.0.0.1"); those print as plain IPv4 so they compare equal to advertised addresses.
 */
export function formatRemoteAddress(address: string, port: number): string {
  const host = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return formatHostPort({ host, port });
}

/** One entry of the host's interface list (the shape of Node's os.networkInterfaces()). */
export interface InterfaceAddress {
  family: string | number;
  address: string;
  internal: boolean;
}

/**
 * The address to advertise for a socket bound to `host`:`port`. A wildcard bind (0.0.0.0, ::) is
 * not an address a peer can reach, so the first external IPv4 address is used, else loopback.
 */
export function advertisedAddress(host: string, port: number, interfaces: Iterable<InterfaceAddress[] | undefined>): string {
  if (host !== '0.0.0.0' && host !== '::') return formatHostPort({ host, port });
  for (const list of interfaces) {
    for (const a of list ?? []) {
      if ((a.family === 'IPv4' || a.family === 4) && !a.internal) return formatHostPort({ host: a.address, port });
    }
  }
  return formatHostPort({ host: '127.0.0.1', port });
}
