import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SeedProvider } from '@grapevine/core';
import { DnsSeeds, StaticSeeds, combineSeeds, createSeedProvider, parseSeed, type DnsSeedsOptions } from '@grapevine/discovery';
import { TestDnsServer } from './helpers/dns-server.js';
import { RecordingLogger } from './helpers/logger.js';

const SRV_NAME = '_gossip._udp.grapevine.test';

describe('DnsSeeds against a DNS server on loopback', () => {
  let server: TestDnsServer;
  let logger: RecordingLogger;
  const providers: SeedProvider[] = [];

  beforeEach(async () => {
    server = await TestDnsServer.start();
    logger = new RecordingLogger();
    server.set('svc.grapevine.test', { A: ['10.0.0.1', '10.0.0.2'], AAAA: ['fd00::1'] });
    server.set('node-a.grapevine.test', { A: ['10.0.1.1'] });
    server.set('node-b.grapevine.test', { A: ['10.0.1.2'], AAAA: ['fd00::1:2'] });
    server.set(SRV_NAME, {
      SRV: [
        { target: 'node-b.grapevine.test', port: 8002, priority: 20 },
        { target: 'node-a.grapevine.test', port: 8001, priority: 10 },
      ],
    });
  });

  afterEach(async () => {
    await Promise.all(providers.splice(0).map((p) => p.close?.()));
    await server.stop();
  });

  function dns(input: string, options: DnsSeedsOptions = {}): DnsSeeds {
    const p = new DnsSeeds(input, { servers: [server.address], timeout: 1500, logger, ...options });
    providers.push(p);
    return p;
  }

  it('dns://: every A and AAAA address is a seed on the given port', async () => {
    const p = dns('dns://svc.grapevine.test:7000');
    expect(p.name).toBe('dns://svc.grapevine.test:7000');
    expect((await p.resolve()).sort()).toEqual(['10.0.0.1:7000', '10.0.0.2:7000', '[fd00::1]:7000']);
    expect(server.queries.map((q) => q.name)).toContain('svc.grapevine.test');
  });

  it('dns://: family 4 asks for A records only', async () => {
    const p = dns('dns://svc.grapevine.test', { family: 4 });
    expect(await p.resolve()).toEqual(['10.0.0.1:7946', '10.0.0.2:7946']);
    expect(server.queries.every((q) => q.type === 1)).toBe(true);
  });

  it('dns://: a name with only AAAA records still resolves (the missing A is not an error)', async () => {
    server.set('v6only.grapevine.test', { AAAA: ['fd00::7'] });
    expect(await dns('dns://v6only.grapevine.test:1').resolve()).toEqual(['[fd00::7]:1']);
  });

  it('dns+srv://: the targets of every SRV record, resolved, on the records\' ports, by priority', async () => {
    const p = dns(`dns+srv://${SRV_NAME}`);
    expect(await p.resolve()).toEqual(['10.0.1.1:8001', '10.0.1.2:8002', '[fd00::1:2]:8002']);
  });

  it('dns+srv:// with resolveTargets false returns target:port names', async () => {
    const p = dns(`dns+srv://${SRV_NAME}`, { resolveTargets: false });
    expect(await p.resolve()).toEqual(['node-a.grapevine.test:8001', 'node-b.grapevine.test:8002']);
  });

  it('dns+srv://: a target that does not resolve is skipped, the others count', async () => {
    server.set(SRV_NAME, { SRV: [{ target: 'gone.grapevine.test', port: 1 }, { target: 'node-a.grapevine.test', port: 8001 }] });
    expect(await dns(`dns+srv://${SRV_NAME}`).resolve()).toEqual(['10.0.1.1:8001']);
  });

  it('re-resolves on every call: records change and the next resolve() follows', async () => {
    const a = dns('dns://svc.grapevine.test:7000', { family: 4 });
    const srv = dns(`dns+srv://${SRV_NAME}`, { family: 4 });
    expect(await a.resolve()).toEqual(['10.0.0.1:7000', '10.0.0.2:7000']);
    expect(await srv.resolve()).toEqual(['10.0.1.1:8001', '10.0.1.2:8002']);

    // A pod restarts with a new IP; another one is added to the service.
    server.set('svc.grapevine.test', { A: ['10.0.0.2', '10.0.0.3'] });
    server.set('node-a.grapevine.test', { A: ['10.0.1.11'] });
    server.set('node-c.grapevine.test', { A: ['10.0.1.3'] });
    server.set(SRV_NAME, {
      SRV: [
        { target: 'node-a.grapevine.test', port: 8001 },
        { target: 'node-c.grapevine.test', port: 8003 },
      ],
    });
    expect(await a.resolve()).toEqual(['10.0.0.2:7000', '10.0.0.3:7000']);
    expect((await srv.resolve()).sort()).toEqual(['10.0.1.11:8001', '10.0.1.3:8003']);
  });

  it('deduplicates addresses', async () => {
    server.set('dup.grapevine.test', { A: ['10.0.0.5', '10.0.0.5'] });
    server.set('_dup._udp.grapevine.test', { SRV: [{ target: 'dup.grapevine.test', port: 9 }, { target: 'dup.grapevine.test', port: 9 }] });
    expect(await dns('dns://dup.grapevine.test:9').resolve()).toEqual(['10.0.0.5:9']);
    expect(await dns('dns+srv://_dup._udp.grapevine.test').resolve()).toEqual(['10.0.0.5:9']);
  });

  it('NXDOMAIN: resolves [] and logs a warning, never throws', async () => {
    const p = dns('dns://missing.grapevine.test:7000');
    expect(await p.resolve()).toEqual([]);
    expect(p.stats).toMatchObject({ misses: 1, lastError: 'ENOTFOUND' });
    expect(logger.at('warn').length).toBe(1);
    expect(logger.at('warn')[0]?.msg).toMatch(/ENOTFOUND/);
    // And once the name appears, the same provider finds it.
    server.set('missing.grapevine.test', { A: ['10.0.0.9'] });
    expect(await p.resolve()).toEqual(['10.0.0.9:7000']);
    expect(p.stats.lastError).toBeUndefined();
  });

  it('REFUSED: resolves [] and logs', async () => {
    server.mode = 'refuse';
    const p = dns(`dns+srv://${SRV_NAME}`);
    expect(await p.resolve()).toEqual([]);
    expect(p.stats.lastError).toBe('EREFUSED');
    expect(logger.at('warn').length).toBe(1);
  });

  it('a server that never answers: resolves [] within the timeout and logs', async () => {
    server.mode = 'silent';
    const p = dns('dns://svc.grapevine.test:7000', { timeout: 400 });
    const t0 = Date.now();
    expect(await p.resolve()).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(p.stats.lastError).toMatch(/ETIMEOUT/);
    expect(logger.at('warn').length).toBe(1);
  });

  it('the server stops: resolve() returns [] and logs, no throw; a new server brings seeds back', async () => {
    const p = dns('dns://svc.grapevine.test:7000', { family: 4, timeout: 1000 });
    expect(await p.resolve()).toHaveLength(2);
    await server.stop();
    expect(await p.resolve()).toEqual([]);
    expect(await p.resolve()).toEqual([]);
    expect(p.stats.misses).toBe(2);
    expect(logger.at('warn').length).toBe(2);
    expect(['ECONNREFUSED', 'ETIMEOUT']).toContain(p.stats.lastError);
  });

  it('an injected resolver is used as is', async () => {
    const p = new DnsSeeds(parseSeed('dns://x.test:5'), {
      resolver: {
        resolve4: async () => ['192.0.2.10'],
        resolve6: async () => {
          throw Object.assign(new Error('no data'), { code: 'ENODATA' });
        },
        resolveSrv: async () => [],
      },
    });
    expect(await p.resolve()).toEqual(['192.0.2.10:5']);
  });

  it('rejects ERR_ABORTED when the signal aborts (and only then)', async () => {
    server.mode = 'silent';
    const p = dns('dns://svc.grapevine.test:7000', { timeout: 5000 });
    const ac = new AbortController();
    const pending = p.resolve(ac.signal);
    setTimeout(() => ac.abort(), 50);
    await expect(pending).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('refuses a non-DNS descriptor and bad options at construction', () => {
    expect(() => new DnsSeeds('10.0.0.1:7000')).toThrow(/takes dns:\/\/, dns\+srv:\/\/ or host-name addresses/);
    expect(() => new DnsSeeds('dns://a.test', { servers: ['not an ip'] })).toThrow(/bad DNS servers/);
    expect(() => new DnsSeeds('dns://a.test', { timeout: 0 })).toThrow(/timeout/);
  });

  it('createSeedProvider: static, A and SRV seeds merged, through the test server', async () => {
    const p = createSeedProvider(['10.9.9.9:7000', 'dns://svc.grapevine.test:7000', `dns+srv://${SRV_NAME}`, 'dns://missing.grapevine.test'], {
      servers: [server.address],
      family: 4,
      timeout: 1500,
      logger,
    });
    providers.push(p);
    expect(await p.resolve()).toEqual(['10.9.9.9:7000', '10.0.0.1:7000', '10.0.0.2:7000', '10.0.1.1:8001', '10.0.1.2:8002']);
    expect(logger.at('warn').some((e) => /ENOTFOUND/.test(e.msg ?? ''))).toBe(true);
  });
});

describe('combineSeeds', () => {
  it('merges in order without duplicates; a failing provider does not block the others', async () => {
    const logger = new RecordingLogger();
    const broken: SeedProvider = {
      name: 'broken',
      resolve: () => Promise.reject(new Error('misconfigured')),
    };
    const throwing: SeedProvider = {
      name: 'throwing',
      resolve: () => {
        throw new Error('synchronous');
      },
    };
    const p = combineSeeds([new StaticSeeds(['a:1', 'b:2']), broken, throwing, new StaticSeeds(['b:2', 'c:3'])], { logger });
    expect(p.name).toBe('static + broken + throwing + static');
    expect(await p.resolve()).toEqual(['a:1', 'b:2', 'c:3']);
    expect(logger.at('warn').map((e) => (e.obj as { provider: string }).provider)).toEqual(['broken', 'throwing']);
  });

  it('closes every provider', async () => {
    let closed = 0;
    const p = combineSeeds([
      { name: 'x', resolve: async () => [], close: async () => void closed++ },
      { name: 'y', resolve: async () => [], close: async () => Promise.reject(new Error('already')) },
      { name: 'z', resolve: async () => [], close: async () => void closed++ },
    ]);
    await p.close();
    expect(closed).toBe(2);
  });

  it('rejects ERR_ABORTED when aborted', async () => {
    await expect(combineSeeds([new StaticSeeds(['a:1'])]).resolve(AbortSignal.abort())).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});
