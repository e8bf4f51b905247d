/**
 * Addresses a node listens on or advertises (--bind, --advertise, --http, and the bind and
 * advertise options): checked before any socket is opened, so "300.1.1.1:7000" or "a b:1" is a
 * clear ERR_INVALID_ADDRESS (the CLI's exit 2), never a resolver's ENOTFOUND at bind time.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { GrapevineError, formatHostPort, parseHostPort, type HostPort } from '@grapevine/core';
import { hostProblem } from '@grapevine/discovery';

/** Parse "host:port" (or "host" with `defaultPort`) and check the host is an IP or a host name. */
export function checkListenAddress(what: string, value: string, defaultPort?: number): HostPort {
  if (typeof value !== 'string') throw new GrapevineError('ERR_INVALID_ADDRESS', `${what}: expected "host:port", got ${typeof value}`);
  const hp = parseHostPort(value, defaultPort);
  const problem = hostProblem(hp.host);
  if (problem !== undefined) throw new GrapevineError('ERR_INVALID_ADDRESS', `invalid address ${JSON.stringify(value)}: ${problem}`);
  return hp;
}

/** The same, normalized back to "host:port" ("[v6]:port"). */
export function normalizeListenAddress(what: string, value: string, defaultPort?: number): string {
  return formatHostPort(checkListenAddress(what, value, defaultPort));
}

/**
 * A listen host that is a name must resolve with the system resolver (as bind() will resolve it);
 * one that does not is ERR_INVALID_ADDRESS naming it, before anything is bound.
 */
export async function checkListenHostResolves(what: string, value: string, defaultPort?: number): Promise<void> {
  const { host } = checkListenAddress(what, value, defaultPort);
  if (isIP(host) !== 0) return;
  try {
    await lookup(host);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new GrapevineError('ERR_INVALID_ADDRESS', `${what} ${JSON.stringify(value)}: the host name does not resolve (${typeof code === 'string' ? code : 'lookup failed'})`, { cause: err });
  }
}
