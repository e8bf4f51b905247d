/**
 * Host-name seeds and the dns:// fallback go to the system resolver (getaddrinfo), so /etc/hosts
 * names such as localhost resolve as they do for any other program; an explicit DNS setup
 * (servers, resolver) is asked alone unless a lookup is given too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DnsSeeds, parseSeed, systemLookup, type DnsResolverLike, type HostLookup } from '@grapevine/discovery';
import { RecordingLogger } from './helpers/logger.js';

/** A resolver that knows no name at all (what DNS says of localhost). */
const emptyDns: DnsResolverLike = {
  resolve4: () => Promise.reject(Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' })),
  resolve6: () => Promise.reject(Object.assign(new Error('queryAAAA ENOTFOUND'), { code: 'ENOTFOUND' })),
  resolveSrv: () => Promise.reject(Object.assign(new Error('querySrv ENOTFOUND'), { code: 'ENOTFOUND' })),
};

describe('system resolver for seeds', () => {
  const providers: DnsSeeds[] = [];
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((p) => p.close()));
  });
  const seeds = (input: string, options: ConstructorParameters<typeof DnsSeeds>[1]): DnsSeeds => {
    const p = new DnsSeeds(input, options);
    providers.push(p);
    return p;
  };

  it('systemLookup finds localhost in /etc/hosts (getaddrinfo, not a DNS query)', async () => {
    expect(await systemLookup('localhost', 4)).toContain('127.0.0.1');
  });

  it('a host-name seed resolves through the system resolver by default, every address, on its port', async () => {
    const p = seeds('localhost:7100', { family: 4 });
    expect(p.name).toBe('localhost:7100');
    expect(await p.resolve()).toEqual(['127.0.0.1:7100']);
    const asked: string[] = [];
    const lookup: HostLookup = async (host, family) => {
      asked.push(`${host}/${family}`);
      return ['10.1.0.1', '10.1.0.2', 'not-an-ip'];
    };
    expect(await seeds(parseSeed('db.internal') as never, { lookup, family: 0 }).resolve()).toEqual(['10.1.0.1:7946', '10.1.0.2:7946']);
    expect(asked).toEqual(['db.internal/0']);
  });

  it('dns:// asks DNS first and falls back to the system resolver when DNS has no address', async () => {
    const logger = new RecordingLogger();
    const lookup: HostLookup = async (host) => (host === 'localhost' ? ['127.0.0.1'] : Promise.reject(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' })));
    expect(await seeds('dns://localhost:7200', { resolver: emptyDns, lookup, logger }).resolve()).toEqual(['127.0.0.1:7200']);
    // Both fail: a logged miss, no seeds, no rejection.
    const miss = seeds('dns://nowhere.test:1', { resolver: emptyDns, lookup, logger });
    expect(await miss.resolve()).toEqual([]);
    expect(miss.stats.lastError).toBe('ENOTFOUND');
    // DNS answers: the system resolver is not asked.
    const dnsAnswers: DnsResolverLike = { ...emptyDns, resolve4: async () => ['10.2.0.1'] };
    let asked = 0;
    expect(await seeds('dns://svc.test:1', { resolver: dnsAnswers, lookup: async () => (asked++, ['10.9.9.9']), family: 4 }).resolve()).toEqual(['10.2.0.1:1']);
    expect(asked).toBe(0);
  });

  it('with an explicit resolver and no lookup, names are asked of that DNS alone', async () => {
    expect(await seeds('dns://localhost:7300', { resolver: emptyDns, timeout: 1000 }).resolve()).toEqual([]);
    const dnsAnswers: DnsResolverLike = { ...emptyDns, resolve4: async (h) => (h === 'localhost' ? ['127.0.0.9'] : []) };
    expect(await seeds('localhost:7300', { resolver: dnsAnswers, family: 4 }).resolve()).toEqual(['127.0.0.9:7300']);
  });

  it('refuses an IP-literal host seed (nothing to look up) and a lookup that is not a function', () => {
    expect(() => new DnsSeeds('127.0.0.1:1')).toThrow(/DnsSeeds takes/);
    expect(() => new DnsSeeds('localhost:1', { lookup: 'x' as never })).toThrow(/lookup must be a function/);
  });
});
