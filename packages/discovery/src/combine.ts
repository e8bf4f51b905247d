import { GrapevineError, silentLogger, type Logger, type SeedProvider } from '@grapevine/core';
import { DnsSeeds, type DnsSeedsOptions } from './dns-seeds.js';
import { parseSeed, type SeedDescriptor } from './seed.js';
import { StaticSeeds } from './static-seeds.js';
import { abortError, isAbort } from './util.js';

export interface CombineSeedsOptions {
  logger?: Logger;
}

/** A provider over several: asks all at once and merges their answers, first seen first, without duplicates. */
export class CombinedSeeds implements SeedProvider {
  readonly name: string;
  readonly providers: readonly SeedProvider[];
  private readonly logger: Logger;

  constructor(providers: readonly SeedProvider[], options: CombineSeedsOptions = {}) {
    this.providers = [...providers];
    this.name = this.providers.map((p) => p.name).join(' + ') || 'none';
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * One provider that rejects (or breaks its contract by throwing) is logged and skipped, so it
   * never hides the others' seeds. Rejects only when `signal` aborts.
   */
  async resolve(signal?: AbortSignal): Promise<string[]> {
    if (signal?.aborted) throw abortError();
    const results = await Promise.allSettled(this.providers.map(async (p) => p.resolve(signal)));
    if (signal?.aborted) throw abortError();
    const out = new Set<string>();
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        for (const s of r.value) out.add(s);
      } else if (!isAbort(r.reason)) {
        this.logger.warn({ provider: this.providers[i]?.name, err: r.reason }, 'seed provider failed; using the others');
      }
    });
    return [...out];
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.providers.map((p) => p.close?.()));
  }
}

/** Merge several providers into one (see CombinedSeeds). */
export function combineSeeds(providers: readonly SeedProvider[], options: CombineSeedsOptions = {}): CombinedSeeds {
  return new CombinedSeeds(providers, options);
}

export type CreateSeedProviderOptions = Omit<DnsSeedsOptions, 'resolveTargets'> & {
  /** dns+srv only: see DnsSeedsOptions.resolveTargets. */
  resolveTargets?: boolean;
};

/**
 * The provider for CLI-style seed strings (`--join` values): every `host:port`, `host`,
 * `[v6]:port` and ws(s):// URL goes into one StaticSeeds, every `dns://` and `dns+srv://` gets a
 * DnsSeeds of its own; one provider is returned as is, several are combined. Every string is
 * checked here, so a bad one throws ERR_INVALID_ADDRESS naming it, before anything starts.
 */
export function createSeedProvider(inputs: readonly string[], options: CreateSeedProviderOptions = {}): SeedProvider {
  if (!Array.isArray(inputs)) throw new GrapevineError('ERR_INVALID_OPTION', 'seeds must be an array of strings');
  const parseOpts = options.defaultPort === undefined ? {} : { defaultPort: options.defaultPort };
  const descriptors: SeedDescriptor[] = inputs.map((s) => parseSeed(s, parseOpts));
  const fixed = descriptors.filter((d) => d.kind === 'host' || d.kind === 'url');
  const providers: SeedProvider[] = [];
  if (fixed.length > 0 || descriptors.length === 0) providers.push(new StaticSeeds(fixed));
  const seenDns = new Set<string>();
  for (const d of descriptors) {
    if (d.kind !== 'dns' && d.kind !== 'srv') continue;
    const key = d.kind === 'dns' ? `dns ${d.host.toLowerCase()} ${d.port}` : `srv ${d.name.toLowerCase()}`;
    if (seenDns.has(key)) continue;
    seenDns.add(key);
    providers.push(new DnsSeeds(d, options));
  }
  if (providers.length === 1) return providers[0]!;
  return combineSeeds(providers, options.logger === undefined ? {} : { logger: options.logger });
}
