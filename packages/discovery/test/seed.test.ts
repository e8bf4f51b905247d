import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GrapevineError } from '@grapevine/core';
import { StaticSeeds, createSeedProvider, describeSeed, parseSeed, type SeedDescriptor } from '@grapevine/discovery';

function invalidCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof GrapevineError ? err.code : `not a GrapevineError: ${String(err)}`;
  }
  return undefined;
}

describe('parseSeed', () => {
  const valid: [string, Partial<SeedDescriptor>][] = [
    ['10.0.0.1:7000', { kind: 'host', host: '10.0.0.1', port: 7000, ip: true, address: '10.0.0.1:7000' }],
    ['10.0.0.1', { kind: 'host', host: '10.0.0.1', port: 7946, address: '10.0.0.1:7946' }],
    ['  node-1.example.com:8000 ', { kind: 'host', host: 'node-1.example.com', port: 8000, ip: false, address: 'node-1.example.com:8000' }],
    ['localhost', { kind: 'host', host: 'localhost', port: 7946 }],
    ['[::1]:7000', { kind: 'host', host: '::1', port: 7000, ip: true, address: '[::1]:7000' }],
    ['[fd00::2]', { kind: 'host', host: 'fd00::2', port: 7946, address: '[fd00::2]:7946' }],
    ['fd00::2', { kind: 'host', host: 'fd00::2', port: 7946, address: '[fd00::2]:7946' }],
    ['dns://grapevine.internal:7000', { kind: 'dns', host: 'grapevine.internal', port: 7000 }],
    ['dns://grapevine.internal', { kind: 'dns', host: 'grapevine.internal', port: 7946 }],
    ['DNS://grapevine.internal/', { kind: 'dns', host: 'grapevine.internal', port: 7946 }],
    ['dns://[fd00::9]:7000', { kind: 'dns', host: 'fd00::9', port: 7000 }],
    [
      'dns+srv://_gossip._udp.grapevine.default.svc.cluster.local',
      { kind: 'srv', name: '_gossip._udp.grapevine.default.svc.cluster.local' },
    ],
    ['dns+srv://web.service.consul.', { kind: 'srv', name: 'web.service.consul.' }],
    ['ws://10.0.0.1:8080/gossip', { kind: 'url', scheme: 'ws', url: 'ws://10.0.0.1:8080/gossip' }],
    ['wss://gossip.example.com/cluster?x=1', { kind: 'url', scheme: 'wss', url: 'wss://gossip.example.com/cluster?x=1' }],
  ];
  for (const [input, expected] of valid) {
    it(`parses ${JSON.stringify(input)}`, () => {
      expect(parseSeed(input)).toMatchObject(expected);
    });
  }

  it('uses the defaultPort option', () => {
    expect(parseSeed('db', { defaultPort: 9000 })).toMatchObject({ port: 9000 });
    expect(parseSeed('dns://db', { defaultPort: 9000 })).toMatchObject({ port: 9000 });
    expect(invalidCode(() => parseSeed('db', { defaultPort: 0 }))).toBe('ERR_INVALID_OPTION');
  });

  const invalid: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['host:', /bad port/],
    ['host:99999', /out of range/],
    ['host:0', /port 0/],
    ['host:abc', /bad port/],
    ['[::1', /missing \]/],
    ['[10.0.0.1]:7000', /IPv6/],
    ['[::1]x', /expected host:port/],
    ['bad host:7000', /bad host/],
    ['under_score!:1', /neither an IP address nor a host name/],
    ['-leading.example.com', /neither/],
    ['10.0.0.256:7946', /not a valid IPv4/],
    ['a..b:1', /neither/],
    ['host/path:1', /expected one of/],
    ['http://example.com', /unsupported scheme "http:\/\/"/],
    ['udp://1.2.3.4:5', /unsupported scheme/],
    ['dns://', /bad host/],
    ['dns://host:1/path', /no path/],
    ['dns+srv://_g._tcp.example.com:7946', /takes no port/],
    ['dns+srv://10.0.0.1', /not a DNS name/],
    ['dns+srv://', /not a DNS name/],
    ['ws://', /not a valid URL/],
    ['ws://user:pw@host/x', /credentials/],
    [`${'a'.repeat(64)}.example.com`, /neither/],
    ['x'.repeat(3000), /longer than/],
  ];
  for (const [input, why] of invalid) {
    it(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      let error: unknown;
      try {
        parseSeed(input);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(GrapevineError);
      expect((error as GrapevineError).code).toBe('ERR_INVALID_ADDRESS');
      expect((error as GrapevineError).message).toMatch(why);
      // The message names the input (shortened when long).
      expect((error as GrapevineError).message).toContain(JSON.stringify(input.slice(0, 100)).slice(0, -1));
    });
  }

  it('never throws anything but ERR_INVALID_ADDRESS, for any string (property)', () => {
    const chars = fc.constantFrom(...'ab1-_.:/[]@?#% \t'.split(''), 'dns://', 'dns+srv://', 'ws://', 'wss://', '::', 'é');
    const structured = fc.array(chars, { maxLength: 24 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), structured), (s) => {
        const code = invalidCode(() => parseSeed(s));
        return code === undefined || code === 'ERR_INVALID_ADDRESS';
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips: a host seed parses back to itself from its address', () => {
    const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
    fc.assert(
      fc.property(fc.oneof(ipv4, fc.ipV6(), fc.domain()), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        const d = parseSeed(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
        if (d.kind !== 'host') return false;
        const again = parseSeed(d.address);
        return again.kind === 'host' && again.host === d.host && again.port === port;
      }),
    );
  });

  it('describes descriptors for logs', () => {
    expect(describeSeed(parseSeed('dns://a.b'))).toBe('dns://a.b:7946');
    expect(describeSeed(parseSeed('dns+srv://_x._tcp.a.b'))).toBe('dns+srv://_x._tcp.a.b');
    expect(describeSeed(parseSeed('[::1]'))).toBe('[::1]:7946');
  });
});

describe('StaticSeeds', () => {
  it('returns the normalized, deduplicated list', async () => {
    const p = new StaticSeeds(['10.0.0.1', '10.0.0.1:7946', '[::1]:7000', 'ws://h:1/p', 'node-2:8000']);
    expect(p.name).toBe('static');
    expect(await p.resolve()).toEqual(['10.0.0.1:7946', '[::1]:7000', 'ws://h:1/p', 'node-2:8000']);
  });

  it('refuses a bad address or a DNS form, naming it', () => {
    expect(() => new StaticSeeds(['10.0.0.1', 'nope:xx'])).toThrow(/"nope:xx"/);
    expect(() => new StaticSeeds(['dns://a.b'])).toThrow(/needs DNS/);
  });

  it('rejects when aborted', async () => {
    await expect(new StaticSeeds(['a:1']).resolve(AbortSignal.abort())).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});

describe('createSeedProvider', () => {
  it('gives one static provider for fixed addresses', async () => {
    const p = createSeedProvider(['a:1', 'b']);
    expect(p).toBeInstanceOf(StaticSeeds);
    expect(await p.resolve()).toEqual(['a:1', 'b:7946']);
  });

  it('gives an empty static provider for no inputs', async () => {
    expect(await createSeedProvider([]).resolve()).toEqual([]);
  });

  it('throws ERR_INVALID_ADDRESS naming the first bad input before building anything', () => {
    let error: unknown;
    try {
      createSeedProvider(['a:1', 'dns+srv://x:1', 'b']);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'ERR_INVALID_ADDRESS' });
    expect(String(error)).toContain('dns+srv://x:1');
  });

  it('combines static and DNS providers and names them', () => {
    const p = createSeedProvider(['a:1', 'dns://x.test:7000', 'dns+srv://_g._udp.x.test', 'dns://X.test:7000'], { servers: ['127.0.0.1:53'] });
    expect(p.name).toBe('static + dns://x.test:7000 + dns+srv://_g._udp.x.test');
  });
});
