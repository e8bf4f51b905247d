import { GrapevineError, type SeedProvider } from '@grapevine/core';
import { parseSeed, type ParseSeedOptions, type SeedDescriptor } from './seed.js';

/**
 * A fixed list of seeds: `host:port`, `host`, `[v6]:port` and ws(s):// URLs. Every address is
 * checked when the provider is made (a bad one throws ERR_INVALID_ADDRESS naming it), then
 * returned normalized ("host:port", IPv6 in brackets; URLs as given), without duplicates.
 * A hostname is returned as is: the transport resolves it when it sends.
 */
export class StaticSeeds implements SeedProvider {
  readonly name = 'static';
  private readonly seeds: readonly string[];

  constructor(list: ReadonlyArray<string | SeedDescriptor>, options: ParseSeedOptions = {}) {
    const out = new Set<string>();
    for (const item of list) {
      const d = typeof item === 'string' ? parseSeed(item, options) : item;
      if (d.kind === 'host') out.add(d.address);
      else if (d.kind === 'url') out.add(d.url);
      else {
        throw new GrapevineError(
          'ERR_INVALID_ADDRESS',
          `static seeds take host:port or ws(s):// addresses; ${JSON.stringify(d.input)} needs DNS (use DnsSeeds or createSeedProvider)`,
        );
      }
    }
    this.seeds = [...out];
  }

  resolve(signal?: AbortSignal): Promise<string[]> {
    if (signal?.aborted) return Promise.reject(new GrapevineError('ERR_ABORTED', 'aborted'));
    return Promise.resolve([...this.seeds]);
  }
}
