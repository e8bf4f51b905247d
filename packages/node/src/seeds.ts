/**
 * Seeds in every address form @grapevine/discovery parses (host:port, host, [v6]:port, dns://,
 * dns+srv://, ws(s)://), checked before anything binds and turned into the addresses the running
 * transport speaks. Names are looked up here, when joining and when refreshing, so the
 * transports only ever send to IP addresses: a plain host name with the system resolver
 * (getaddrinfo: /etc/hosts, then DNS, like any other program), dns:// with DNS queries falling
 * back to the system resolver when DNS has no address, dns+srv:// with SRV queries (a ws(s):// URL keeps its host name: the URL is what
 * the WebSocket transport dials, and TLS checks the certificate against that name).
 */
import { GrapevineError, parseHostPort, silentLogger, type Logger, type SeedProvider } from '@grapevine/core';
import { DnsSeeds, combineSeeds, describeSeed, parseSeed, type DnsResolverLike, type HostLookup, type SeedDescriptor } from '@grapevine/discovery';
import { canonicalPeerUrl, DEFAULT_PATH } from '@grapevine/transport-ws';

/** Which transport the seeds are for: a built-in one by name, or any other Transport. */
export type SeedTransportKind = 'udp+tcp' | 'tcp' | 'ws' | 'custom';

/** A seed after the check: a parsed descriptor, or (custom transports only) an address kept as given. */
export type CheckedSeed = SeedDescriptor | { readonly kind: 'raw'; readonly input: string };

/**
 * Name-lookup settings for `dns://`, `dns+srv://` and host-name seeds. With neither `servers` nor
 * `resolver`, host names go to the system resolver and dns:// falls back to it; with either, every
 * name is asked of that DNS alone (unless `lookup` is given too).
 */
export interface SeedDnsOptions {
  /** DNS servers ("ip", "ip:port") instead of the system's. */
  servers?: string[];
  /** Or a resolver of your own (anything with resolve4/resolve6/resolveSrv). */
  resolver?: DnsResolverLike;
  /** The system resolver to use instead of node:dns lookup() (getaddrinfo), e.g. in a test. */
  lookup?: HostLookup;
  /** A whole lookup gives up after this many ms (a logged miss, tried again later). Default 5000. */
  timeout?: number;
  /** 4: A records only; 6: AAAA only; 0: both. Default: 0 when this node's address is IPv6, else 4. */
  family?: 0 | 4 | 6;
}

/**
 * Parse every seed now, so a bad one fails createCluster (ERR_INVALID_ADDRESS, naming it) before
 * a socket is bound. ws(s):// seeds need the WebSocket transport. With a Transport of your own,
 * an address no form matches is kept as given: that transport may well speak it.
 */
export function checkSeeds(inputs: readonly string[], kind: SeedTransportKind): CheckedSeed[] {
  if (!Array.isArray(inputs)) throw new GrapevineError('ERR_INVALID_OPTION', 'seeds must be an array of addresses');
  return inputs.map((input): CheckedSeed => {
    if (typeof input !== 'string') throw new GrapevineError('ERR_INVALID_ADDRESS', `invalid seed address ${String(input)}: not a string`);
    let d: SeedDescriptor;
    try {
      d = parseSeed(input);
    } catch (err) {
      if (kind === 'custom' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(input.trim()) && input.trim() !== '') return { kind: 'raw', input: input.trim() };
      throw err;
    }
    if (d.kind === 'url') {
      if (kind === 'udp+tcp' || kind === 'tcp') {
        throw new GrapevineError('ERR_INVALID_ADDRESS', `invalid seed address ${JSON.stringify(input)}: ${d.scheme}:// seeds need transport 'ws' (this node runs '${kind}')`);
      }
      if (kind === 'ws') canonicalPeerUrl(d.url, DEFAULT_PATH, d.scheme); // throws ERR_INVALID_ADDRESS
    }
    return d;
  });
}

/** Check the `dns` option now (servers, timeout, family), before anything binds. */
export function checkDnsOption(dns: SeedDnsOptions | undefined): void {
  if (dns === undefined) return;
  if (typeof dns !== 'object' || dns === null || Array.isArray(dns)) {
    throw new GrapevineError('ERR_INVALID_OPTION', 'option dns must be an object ({servers, resolver, timeout, family})');
  }
  // DnsSeeds validates all of it in its constructor (no lookup is made); it is dropped at once.
  void new DnsSeeds('dns://check.invalid:1', {
    ...(dns.servers !== undefined ? { servers: dns.servers } : {}),
    ...(dns.resolver !== undefined ? { resolver: dns.resolver } : {}),
    ...(dns.timeout !== undefined ? { timeout: dns.timeout } : {}),
    ...(dns.family !== undefined ? { family: dns.family } : {}),
    ...(dns.lookup !== undefined ? { lookup: dns.lookup } : {}),
  }).close();
}

/** The normalized form of a checked seed, for logs and for the agent's settings. */
export function seedLabel(seed: CheckedSeed): string {
  return seed.kind === 'raw' ? seed.input : describeSeed(seed);
}

/** How the running transport names peers, learned from its own address. */
interface AddressForm {
  /** Map a seed address onto the form the transport prints, or undefined when it can't be one. */
  normalize(address: string): string | undefined;
  /** Host names of host:port seeds are resolved to IP addresses (not for wss://, see above). */
  resolveHostNames: boolean;
  /** The DNS family that matches this node's own address. */
  family: 0 | 4;
  /** True when the transport's addresses are network addresses (host:port or a URL). */
  network: boolean;
}

function addressForm(self: string): AddressForm {
  const url = /^(wss?):\/\//i.exec(self);
  if (url !== null) {
    const parsed = new URL(self);
    const scheme = url[1]!.toLowerCase() as 'ws' | 'wss';
    const path = parsed.pathname;
    return {
      normalize: (a) => {
        try {
          return canonicalPeerUrl(a, path, scheme);
        } catch {
          return undefined;
        }
      },
      resolveHostNames: scheme === 'ws',
      family: parsed.hostname.startsWith('[') ? 0 : 4,
      network: true,
    };
  }
  try {
    const hp = parseHostPort(self);
    return { normalize: (a) => a, resolveHostNames: true, family: hp.host.includes(':') ? 0 : 4, network: true };
  } catch {
    return { normalize: (a) => a, resolveHostNames: false, family: 4, network: false };
  }
}

export interface ClusterSeedsOptions {
  dns?: SeedDnsOptions;
  logger?: Logger;
}

/**
 * The seeds of one running node: fixed addresses plus whatever DNS says now, in the transport's
 * address form, without this node's own address, without duplicates. A SeedProvider, so the
 * discovery package's SeedRefresher can poll it.
 */
export class ClusterSeeds implements SeedProvider {
  readonly name: string;
  /** True when some seeds come from DNS (worth refreshing); false for a fixed list. */
  readonly dynamic: boolean;
  private readonly fixed: string[];
  private readonly dns: SeedProvider | undefined;
  private readonly form: AddressForm;
  private readonly self: string;
  private readonly logger: Logger;

  constructor(seeds: readonly CheckedSeed[], selfAddress: string, options: ClusterSeedsOptions = {}) {
    this.self = selfAddress;
    this.form = addressForm(selfAddress);
    this.logger = options.logger ?? silentLogger;
    const fixed: string[] = [];
    const lookups: SeedDescriptor[] = [];
    for (const s of seeds) {
      if (s.kind === 'raw') fixed.push(s.input);
      else if (s.kind === 'url') fixed.push(s.url);
      else if (s.kind === 'host') {
        if (s.ip || !this.form.resolveHostNames) fixed.push(this.form.network ? s.address : s.input);
        // A host name becomes a lookup, so no transport resolves it again on every send.
        else lookups.push(s);
      } else if (s.kind === 'dns' || s.kind === 'srv') lookups.push(s);
    }
    this.fixed = [...new Set(fixed)];
    const dns = options.dns ?? {};
    const byName = new Map<string, SeedDescriptor>();
    for (const d of lookups) byName.set(describeSeed(d).toLowerCase(), d);
    const providers = [...byName.values()].map(
      (d) =>
        new DnsSeeds(d, {
          ...(dns.servers !== undefined ? { servers: dns.servers } : {}),
          ...(dns.resolver !== undefined ? { resolver: dns.resolver } : {}),
          ...(dns.timeout !== undefined ? { timeout: dns.timeout } : {}),
          ...(dns.lookup !== undefined ? { lookup: dns.lookup } : {}),
          family: dns.family ?? this.form.family,
          logger: this.logger,
        }),
    );
    this.dns = providers.length === 0 ? undefined : providers.length === 1 ? providers[0] : combineSeeds(providers, { logger: this.logger });
    this.dynamic = this.dns !== undefined;
    this.name = [...this.fixed, ...(this.dns ? [this.dns.name] : [])].join(', ') || 'none';
  }

  /** The fixed seeds and DNS's current answer (a DNS miss is logged by the provider and adds nothing). */
  async resolve(signal?: AbortSignal): Promise<string[]> {
    if (signal?.aborted) throw new GrapevineError('ERR_ABORTED', 'aborted');
    const found = this.dns ? await this.dns.resolve(signal) : [];
    return this.toAddresses([...this.fixed, ...found]);
  }

  /** Seed addresses in the transport's form, own address and duplicates removed. */
  toAddresses(list: readonly string[]): string[] {
    const out = new Set<string>();
    for (const a of list) {
      const n = this.form.normalize(a);
      if (n === undefined) {
        this.logger.warn({ seed: a }, 'seed address does not fit this transport; ignored');
        continue;
      }
      if (n !== this.self) out.add(n);
    }
    return [...out];
  }

  async close(): Promise<void> {
    await this.dns?.close?.();
  }
}
