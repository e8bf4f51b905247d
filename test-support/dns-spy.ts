import dns from 'node:dns';
import { isIP } from 'node:net';

type Callback = (err: NodeJS.ErrnoException | null, address?: string, family?: number) => void;

export interface DnsSpy {
  /** Every host name (not IP literal) anything asked dns.lookup to resolve since install. */
  names(): string[];
  restore(): void;
}

/**
 * Replaces dns.lookup, which node:dgram and node:net call to turn a host into an address, with a
 * recorder: IP literals are answered as Node answers them (no query), and every name fails at once
 * with ENOTFOUND, so a test can never reach a real resolver or send anywhere. Install it before
 * the sockets under test exist: node:dgram takes dns.lookup when a socket is created.
 */
export function spyOnDnsLookup(): DnsSpy {
  const original = dns.lookup;
  const asked: string[] = [];
  const fake = (hostname: string, options: unknown, callback?: Callback): void => {
    const cb = (typeof options === 'function' ? options : callback) as Callback;
    asked.push(hostname);
    if (isIP(hostname) !== 0) {
      if (typeof options === 'function') (original as (h: string, c: Callback) => void)(hostname, cb);
      else (original as (h: string, o: unknown, c: Callback) => void)(hostname, options, cb);
      return;
    }
    const err: NodeJS.ErrnoException = new Error(`dns spy: no lookups in this test (${hostname})`);
    err.code = 'ENOTFOUND';
    process.nextTick(() => cb(err));
  };
  (dns as { lookup: unknown }).lookup = fake;
  return {
    names: () => asked.filter((h) => isIP(h) === 0),
    restore: () => {
      (dns as { lookup: unknown }).lookup = original;
    },
  };
}

/** Host names a forged member could carry, and addresses no send may go to. */
export const UNSENDABLE = [
  'example.invalid:7946',
  'localhost:7946',
  'LOCALHOST:7946',
  '1.2.3.4:0',
  '[::1]:0',
  '127.1:7946', // inet_aton shorthand: getaddrinfo would accept it, isIP does not
  '0x7f000001:7946',
  'not an address',
  'host:99999',
  '',
];
