/**
 * The system resolver (getaddrinfo, through node:dns lookup()), the way every other program on the
 * machine resolves a name: /etc/hosts, nsswitch, mDNS, search domains, then DNS. Plain host-name
 * seeds use it, and dns:// seeds fall back to it when DNS itself has no address for the name (so
 * `localhost` and /etc/hosts entries join like they do with curl or ssh).
 */
import { lookup } from 'node:dns/promises';

/** Every address of `host` for `family` (0: both), as the system resolver gives them. Rejects like node:dns. */
export type HostLookup = (host: string, family: 0 | 4 | 6) => Promise<string[]>;

/** getaddrinfo through libuv's thread pool; all addresses, in the resolver's order. */
export const systemLookup: HostLookup = async (host, family) => {
  const found = await lookup(host, { all: true, family, verbatim: true });
  return found.map((a) => a.address);
};
