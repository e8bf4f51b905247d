import { isIP } from 'node:net';
import { GrapevineError, formatHostPort, parseHostPort } from '@grapevine/core';

/** The gossip port a seed gets when its address names none (memberlist's and Serf's default). */
export const DEFAULT_SEED_PORT = 7946;

/** `host:port`, `host`, `[v6]:port`: one address; a host name is looked up with the system resolver. */
export interface HostSeed {
  readonly kind: 'host';
  /** The input, trimmed. */
  readonly input: string;
  /** Hostname or IP literal (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** True when `host` is an IP literal. */
  readonly ip: boolean;
  /** "host:port" ("[v6]:port" for IPv6), what a provider returns. */
  readonly address: string;
}

/** `dns://host[:port]`: every A/AAAA address of `host` is a seed on `port`. */
export interface DnsSeed {
  readonly kind: 'dns';
  readonly input: string;
  /** The name to resolve (or an IP literal, which needs no resolving). */
  readonly host: string;
  readonly port: number;
}

/** `dns+srv://_service._proto.name`: every SRV record's target:port is a seed. */
export interface SrvSeed {
  readonly kind: 'srv';
  readonly input: string;
  /** The full SRV owner name, e.g. "_gossip._udp.grapevine.default.svc.cluster.local". */
  readonly name: string;
}

/** `ws://…`, `wss://…`: a WebSocket transport address, passed through as is. */
export interface UrlSeed {
  readonly kind: 'url';
  readonly input: string;
  readonly scheme: 'ws' | 'wss';
  /** The URL exactly as given (trimmed). */
  readonly url: string;
}

export type SeedDescriptor = HostSeed | DnsSeed | SrvSeed | UrlSeed;

export interface ParseSeedOptions {
  /** Port for `host` and `dns://host` without one. Default 7946. */
  defaultPort?: number;
}

/** Longest input accepted at all (a URL with a path is the longest legitimate form). */
const MAX_INPUT = 2048;

const FORMS = 'host:port, host, [v6]:port, dns://host[:port], dns+srv://_service._proto.name, ws://host:port/path, wss://host:port/path';

function invalid(input: string, why: string): GrapevineError {
  // Bound what is echoed back: the input may be arbitrary (a config file, a CLI flag).
  const shown = input.length > 100 ? `${input.slice(0, 100)}…` : input;
  return new GrapevineError('ERR_INVALID_ADDRESS', `invalid seed address ${JSON.stringify(shown)}: ${why}`);
}

/**
 * A DNS name as a seed may use it: dot-separated labels of letters, digits, '-' and '_' (SRV owner
 * names start with "_service._proto"), 1–63 characters each, 253 in all, an optional final dot.
 */
export function isDnsName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  for (const label of n.split('.')) {
    if (label.length === 0 || label.length > 63) return false;
    if (!/^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/.test(label)) return false;
  }
  return true;
}

/**
 * Why `host` (no port, IPv6 without brackets) can be neither an IP address nor a host name, or
 * undefined when it can be one. "300.1.1.1" is refused here rather than sent to a resolver: a
 * host name's last label is never all digits (RFC 3696 §2), so it can only be a bad IPv4 address.
 */
export function hostProblem(host: string): string | undefined {
  if (isIP(host) !== 0) return undefined;
  if (!isDnsName(host)) return `"${host}" is neither an IP address nor a host name`;
  if (/(^|\.)\d+\.?$/.test(host)) return `"${host}" is not a valid IPv4 address`;
  return undefined;
}

function checkPort(input: string, port: number): number {
  if (port === 0) throw invalid(input, 'port 0 is not a seed port');
  return port;
}

/** Host and port of "host:port" / "host" / "[v6]:port" / bare IPv6, with the host checked. */
function hostPort(input: string, body: string, defaultPort: number): { host: string; port: number; ip: boolean } {
  let host: string;
  let port: number;
  if (!body.startsWith('[') && isIP(body) === 6) {
    // A bare IPv6 literal has no room for a port: "[v6]:port" carries one.
    return { host: body, port: defaultPort, ip: true };
  } else {
    try {
      ({ host, port } = parseHostPort(body, defaultPort));
    } catch (err) {
      // parseHostPort says `invalid address "<body>": <why>`; keep the why, name the whole input.
      const prefix = `invalid address "${body}"`;
      const msg = err instanceof Error ? err.message : '';
      const why = msg.startsWith(`${prefix}: `) ? msg.slice(prefix.length + 2) : 'expected host:port';
      throw invalid(input, why);
    }
  }
  if (body.startsWith('[')) {
    if (isIP(host) !== 6) throw invalid(input, 'only an IPv6 literal goes inside [ ]');
    return { host, port: checkPort(input, port), ip: true };
  }
  const family = isIP(host);
  if (family === 6) throw invalid(input, 'an IPv6 address with a port is written [v6]:port');
  if (family === 0) {
    const problem = hostProblem(host);
    if (problem !== undefined) throw invalid(input, problem);
  }
  return { host, port: checkPort(input, port), ip: family !== 0 };
}

/**
 * Parse one seed address in any form Grapevine accepts (see FORMS). Throws a GrapevineError with
 * code ERR_INVALID_ADDRESS, naming the input, for anything else; never anything but that.
 */
export function parseSeed(input: string, options: ParseSeedOptions = {}): SeedDescriptor {
  const defaultPort = options.defaultPort ?? DEFAULT_SEED_PORT;
  if (!Number.isInteger(defaultPort) || defaultPort < 1 || defaultPort > 65_535) {
    throw new GrapevineError('ERR_INVALID_OPTION', `defaultPort must be an integer in 1..65535, got ${String(defaultPort)}`);
  }
  if (typeof input !== 'string') throw invalid(String(input), 'not a string');
  const s = input.trim();
  if (s.length === 0) throw invalid(input, `empty; expected one of ${FORMS}`);
  if (s.length > MAX_INPUT) throw invalid(input, `longer than ${MAX_INPUT} characters`);

  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(s);
  if (scheme === null) {
    if (s.includes('/')) throw invalid(input, `expected one of ${FORMS}`);
    const { host, port, ip } = hostPort(input, s, defaultPort);
    return { kind: 'host', input: s, host, port, ip, address: formatHostPort({ host, port }) };
  }
  const name = scheme[1]!.toLowerCase();
  const rest = s.slice(scheme[0].length).replace(/\/$/, '');
  switch (name) {
    case 'dns': {
      if (rest.includes('/') || rest.includes('?') || rest.includes('#')) throw invalid(input, 'dns:// takes host[:port], no path');
      const { host, port } = hostPort(input, rest, defaultPort);
      return { kind: 'dns', input: s, host, port };
    }
    case 'dns+srv': {
      if (rest.includes('/') || rest.includes('?') || rest.includes('#')) throw invalid(input, 'dns+srv:// takes a name, no path');
      if (rest.includes(':')) throw invalid(input, 'dns+srv:// takes no port: the SRV records carry the ports');
      if (!isDnsName(rest) || isIP(rest) !== 0) throw invalid(input, `"${rest}" is not a DNS name`);
      return { kind: 'srv', input: s, name: rest };
    }
    case 'ws':
    case 'wss': {
      let url: URL;
      try {
        url = new URL(s);
      } catch {
        throw invalid(input, 'not a valid URL');
      }
      if (url.hostname.length === 0) throw invalid(input, 'the URL names no host');
      if (url.username !== '' || url.password !== '') throw invalid(input, 'credentials in the URL are not supported (use the transport\'s token option)');
      return { kind: 'url', input: s, scheme: name, url: s };
    }
    default:
      throw invalid(input, `unsupported scheme "${name}://"; expected one of ${FORMS}`);
  }
}

/** A human-readable name of a descriptor, for logs and provider names. */
export function describeSeed(seed: SeedDescriptor): string {
  switch (seed.kind) {
    case 'host':
      return seed.address;
    case 'dns':
      return `dns://${formatHostPort({ host: seed.host, port: seed.port })}`;
    case 'srv':
      return `dns+srv://${seed.name}`;
    case 'url':
      return seed.url;
  }
}
