import { isIP } from 'node:net';
import { GrapevineError, parseHostPort, type HostPort } from '@grapevine/core';

/**
 * The destination of a send, or ERR_INVALID_ADDRESS. Only an IP literal with a port in 1..65535 is
 * accepted: net.connect resolves any other host with a DNS lookup, and in a cluster
 * without encryption anyone can gossip a member whose address is a host name of their choosing
 * (a lookup storm, a probe of internal DNS, a slow resolver stalling the libuv threadpool). Names
 * an operator gives (seeds) are resolved before they reach a transport, by discovery at join.
 */
export function parseDialAddress(address: string, what = 'tcp: cannot connect to'): HostPort {
  const dest = parseHostPort(address);
  if (isIP(dest.host) === 0) {
    throw new GrapevineError('ERR_INVALID_ADDRESS', `${what} ${quote(address)}: the host is not an IP address (names are never looked up when sending)`);
  }
  if (dest.port === 0) throw new GrapevineError('ERR_INVALID_ADDRESS', `${what} ${quote(address)}: port 0`);
  return dest;
}

/** Attacker-chosen text in a message: bounded, escaped. */
function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}
