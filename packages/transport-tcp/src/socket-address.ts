import { networkInterfaces } from 'node:os';
import { formatHostPort } from '@grapevine/core';

/**
 * The address to advertise for a socket bound to `host`:`port`. A wildcard bind (0.0.0.0, ::) is
 * not an address a peer can reach, so we pick the first external IPv4 address, else loopback.
 */
export function advertisedAddress(host: string, port: number): string {
  const wildcard = host === '0.0.0.0' || host === '::';
  return formatHostPort({ host: wildcard ? firstExternalIPv4() : host, port });
}

function firstExternalIPv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}

/**
 * "host:port" for a socket's peer. A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6
 * ("::ffff:10.0.0.1"); we print those as plain IPv4 so they compare equal to advertised addresses.
 */
export function formatRemoteAddress(address: string, port: number): string {
  const host = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return formatHostPort({ host, port });
}
