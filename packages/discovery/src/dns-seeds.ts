import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { GrapevineError, formatHostPort, silentLogger, type Logger, type SeedProvider } from '@grapevine/core';
import { describeSeed, parseSeed, type DnsSeed, type HostSeed, type SeedDescriptor, type SrvSeed } from './seed.js';
import { systemLookup, type HostLookup } from './system-lookup.js';
import { abortError, withDeadline } from './util.js';

/** One SRV record as node:dns reports it. */
export interface SrvRecordLike {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** The part of node:dns/promises' Resolver a DnsSeeds uses (inject one to control or fake DNS). */
export interface DnsResolverLike {
  resolve4(hostname: string): Promise<string[]>;
  resolve6(hostname: string): Promise<string[]>;
  resolveSrv(hostname: string): Promise<SrvRecordLike[]>;
  /** Cancel outstanding queries (node's Resolver has it); close() calls it on a resolver DnsSeeds made itself. */
  cancel?(): void;
}

export interface DnsSeedsOptions {
  /** Resolver to query; default a node:dns/promises Resolver (the system's servers, or `servers`). */
  resolver?: DnsResolverLike;
  /** DNS servers ("ip" or "ip:port", "[v6]:port") for the default resolver, e.g. a test server. */
  servers?: string[];
  /** Give up on one resolve() after this many milliseconds and return []. Default 5000. */
  timeout?: number;
  /** Address families to ask for: 4 (A), 6 (AAAA) or 0 (both, the default). */
  family?: 0 | 4 | 6;
  /** dns+srv only: resolve SRV targets to addresses (default true) or return "target:port" names. */
  resolveTargets?: boolean;
  /** Port for `dns://host` without one, when the descriptor is given as a string. Default 7946. */
  defaultPort?: number;
  /**
   * The system resolver (getaddrinfo) used for host-name seeds, and by dns:// when DNS has no
   * address for the name. Default node:dns lookup(). Without `servers` or `resolver` it is always
   * used that way; with either, only when given here too (an explicit DNS setup is asked alone).
   */
  lookup?: HostLookup;
  logger?: Logger;
}

export interface DnsSeedsStats {
  /** resolve() calls answered. */
  resolves: number;
  /** resolve() calls that found nothing because of an error (NXDOMAIN, timeout, refused ...). */
  misses: number;
  /** Error code of the last miss ("ENOTFOUND", "ETIMEOUT", "ECONNREFUSED" ...), else undefined. */
  lastError: string | undefined;
}

/** DNS error codes that say "this name has no records of this type", not "DNS failed". */
const NO_DATA = new Set(['ENODATA', 'ENOTFOUND']);

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}

/**
 * Seeds from names, looked up again on every resolve(): `dns://host:port` gives every A/AAAA
 * address of host on port (asked of DNS; when DNS has none, of the system resolver, so /etc/hosts
 * names such as localhost work); `dns+srv://name` gives every SRV record's target (resolved to its
 * addresses) on the record's port; a plain `host:port` with a host name gives every address the
 * system resolver (getaddrinfo) has for it, as any other program would see. So a pod that restarts
 * with a new IP is found at the next resolve(). A failed lookup (NXDOMAIN, timeout, refused, ...)
 * is logged and resolves [] — a temporary miss.
 *
 * With `servers` or `resolver` given, every name (host names too) is asked of that DNS alone,
 * unless `lookup` is given as well: an explicit DNS setup (a split-horizon server, a test server)
 * is never bypassed behind the user's back.
 */
export class DnsSeeds implements SeedProvider {
  readonly name: string;
  readonly stats: DnsSeedsStats = { resolves: 0, misses: 0, lastError: undefined };

  private readonly seed: DnsSeed | SrvSeed | HostSeed;
  private readonly resolver: DnsResolverLike;
  /** The system resolver, when names may be given to it (see the class comment). */
  private readonly system: HostLookup | undefined;
  private readonly timeout: number;
  private readonly family: 0 | 4 | 6;
  private readonly resolveTargets: boolean;
  private readonly logger: Logger;
  /** True when the resolver is ours (not injected), so close() may cancel its queries. */
  private readonly ownResolver: boolean;
  private closed = false;

  constructor(seed: SeedDescriptor | string, options: DnsSeedsOptions = {}) {
    const d = typeof seed === 'string' ? parseSeed(seed, options.defaultPort === undefined ? {} : { defaultPort: options.defaultPort }) : seed;
    if (d.kind !== 'dns' && d.kind !== 'srv' && !(d.kind === 'host' && !d.ip)) {
      throw new GrapevineError('ERR_INVALID_ADDRESS', `DnsSeeds takes dns://, dns+srv:// or host-name addresses, not ${JSON.stringify(d.input)}`);
    }
    this.seed = d;
    this.name = describeSeed(d);
    this.timeout = options.timeout ?? 5000;
    if (!Number.isFinite(this.timeout) || this.timeout <= 0) {
      throw new GrapevineError('ERR_INVALID_OPTION', `timeout must be a positive number of milliseconds, got ${String(options.timeout)}`);
    }
    this.family = options.family ?? 0;
    if (this.family !== 0 && this.family !== 4 && this.family !== 6) {
      throw new GrapevineError('ERR_INVALID_OPTION', `family must be 0, 4 or 6, got ${String(options.family)}`);
    }
    this.resolveTargets = options.resolveTargets ?? true;
    this.logger = options.logger ?? silentLogger;
    if (options.resolver !== undefined) {
      if (options.servers !== undefined) throw new GrapevineError('ERR_INVALID_OPTION', 'give either resolver or servers, not both');
      this.resolver = options.resolver;
      this.ownResolver = false;
    } else {
      // c-ares retries once inside the budget; withDeadline() below bounds the whole lookup anyway.
      const r = new Resolver({ timeout: Math.max(50, Math.floor(this.timeout / 3)), tries: 2 });
      if (options.servers !== undefined) {
        try {
          r.setServers(options.servers);
        } catch (err) {
          throw new GrapevineError('ERR_INVALID_OPTION', `bad DNS servers ${JSON.stringify(options.servers)}: ${codeOf(err)}`, { cause: err });
        }
      }
      this.resolver = r;
      this.ownResolver = true;
    }
    if (options.lookup !== undefined && typeof options.lookup !== 'function') throw new GrapevineError('ERR_INVALID_OPTION', 'lookup must be a function (host, family) => Promise<string[]>');
    const explicitDns = options.servers !== undefined || options.resolver !== undefined;
    this.system = options.lookup ?? (explicitDns ? undefined : systemLookup);
  }

  /** Look the name up now. Resolves [] (and logs a warning) on any DNS failure; rejects only when aborted. */
  async resolve(signal?: AbortSignal): Promise<string[]> {
    if (signal?.aborted) throw abortError();
    if (this.closed) return [];
    try {
      const seeds = await withDeadline(this.lookup(), this.timeout, signal);
      this.stats.resolves++;
      if (seeds.length === 0) {
        this.stats.misses++;
        this.stats.lastError = 'ENODATA';
        this.logger.warn({ provider: this.name }, 'dns discovery: the name has no addresses; no seeds this time');
      } else {
        this.stats.lastError = undefined;
        this.logger.debug({ provider: this.name, seeds }, 'dns discovery resolved');
      }
      return seeds;
    } catch (err) {
      if (err instanceof GrapevineError && err.code === 'ERR_ABORTED') throw err;
      const code = err instanceof GrapevineError && err.code === 'ERR_TIMEOUT' ? 'ETIMEOUT' : codeOf(err);
      this.stats.resolves++;
      this.stats.misses++;
      this.stats.lastError = code;
      if (!this.closed) {
        this.logger.warn({ provider: this.name, code, err }, `dns discovery: lookup failed (${code}); no seeds this time, will retry`);
      }
      return [];
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    // An injected resolver may be shared with other providers: only our own is cancelled.
    if (this.ownResolver) this.resolver.cancel?.();
  }

  private async lookup(): Promise<string[]> {
    const seed = this.seed;
    if (seed.kind === 'host') {
      const addrs = this.system !== undefined ? await this.systemAddresses(seed.host) : await this.addresses(seed.host);
      return dedupe(addrs.map((host) => formatHostPort({ host, port: seed.port })));
    }
    if (seed.kind === 'dns') {
      let addrs: string[];
      try {
        addrs = await this.addresses(seed.host);
      } catch (err) {
        if (this.system === undefined) throw err;
        addrs = [];
      }
      // DNS has no address (or failed): the system resolver may (localhost, /etc/hosts, mDNS).
      if (addrs.length === 0 && this.system !== undefined) addrs = await this.systemAddresses(seed.host);
      return dedupe(addrs.map((host) => formatHostPort({ host, port: seed.port })));
    }
    const records = await this.resolver.resolveSrv(seed.name);
    // Lower priority first, then heavier weight: the order a client would try them in.
    const sorted = [...records]
      .filter((r) => r.name !== '' && r.name !== '.' && Number.isInteger(r.port) && r.port > 0 && r.port <= 65_535)
      .sort((a, b) => a.priority - b.priority || b.weight - a.weight);
    if (!this.resolveTargets) {
      return dedupe(sorted.map((r) => formatHostPort({ host: r.name.replace(/\.$/, ''), port: r.port })));
    }
    const perTarget = await Promise.all(
      sorted.map(async (r) => {
        try {
          const addrs = await this.addresses(r.name);
          return addrs.map((host) => formatHostPort({ host, port: r.port }));
        } catch (err) {
          this.logger.debug({ provider: this.name, target: r.name, code: codeOf(err) }, 'dns discovery: SRV target did not resolve');
          return [];
        }
      }),
    );
    return dedupe(perTarget.flat());
  }

  /**
   * A and/or AAAA addresses of `host`. A family without records is no error while the other has
   * some; when none has any, the most telling failure is thrown (a real one before "no data").
   */
  private async addresses(host: string): Promise<string[]> {
    const bare = host.replace(/\.$/, '');
    if (isIP(bare) !== 0) return [bare];
    const queries: Promise<string[]>[] = [];
    if (this.family !== 6) queries.push(this.resolver.resolve4(bare));
    if (this.family !== 4) queries.push(this.resolver.resolve6(bare));
    const results = await Promise.allSettled(queries);
    const out: string[] = [];
    const failures: unknown[] = [];
    for (const r of results) {
      if (r.status === 'fulfilled') out.push(...r.value);
      else failures.push(r.reason);
    }
    if (out.length > 0) return out;
    const failure = failures.find((e) => !NO_DATA.has(codeOf(e))) ?? failures[0];
    if (failure !== undefined) throw failure;
    return [];
  }

  private async systemAddresses(host: string): Promise<string[]> {
    const bare = host.replace(/\.$/, '');
    if (isIP(bare) !== 0) return [bare];
    const found = await this.system!(bare, this.family);
    // getaddrinfo may hand back IPv4-mapped or link-local forms; keep what is an IP literal.
    return found.filter((a) => isIP(a) !== 0);
  }
}

function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}
