import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatHostPort, isIpLiteral, parseDialAddress, parseHostPort } from '../src/address.js';
import { isIP } from 'node:net';
import { GrapevineError } from '../src/errors.js';

function expectInvalid(input: string, defaultPort?: number): void {
  let caught: unknown;
  try {
    parseHostPort(input, defaultPort);
  } catch (err) {
    caught = err;
  }
  expect(caught, JSON.stringify(input)).toBeInstanceOf(GrapevineError);
  expect((caught as GrapevineError).code).toBe('ERR_INVALID_ADDRESS');
}

describe('parseHostPort', () => {
  it('parses host:port, [v6]:port and bare hosts with a default port', () => {
    expect(parseHostPort('127.0.0.1:7946')).toEqual({ host: '127.0.0.1', port: 7946 });
    expect(parseHostPort('node-1.example.com:1')).toEqual({ host: 'node-1.example.com', port: 1 });
    expect(parseHostPort('localhost:65535')).toEqual({ host: 'localhost', port: 65535 });
    expect(parseHostPort('h:0')).toEqual({ host: 'h', port: 0 });
    expect(parseHostPort('h:007')).toEqual({ host: 'h', port: 7 });
    expect(parseHostPort('[::1]:7946')).toEqual({ host: '::1', port: 7946 });
    expect(parseHostPort('[fe80::1%eth0]:80')).toEqual({ host: 'fe80::1%eth0', port: 80 });
    expect(parseHostPort('[2001:db8::1]', 7946)).toEqual({ host: '2001:db8::1', port: 7946 });
    expect(parseHostPort('seed.local', 7946)).toEqual({ host: 'seed.local', port: 7946 });
    expect(parseHostPort('seed.local:8000', 7946)).toEqual({ host: 'seed.local', port: 8000 });
    expect(parseHostPort('::1', 7946)).toEqual({ host: '::1', port: 7946 }); // bare v6: no port possible
    expect(parseHostPort('  10.0.0.1:80 \n')).toEqual({ host: '10.0.0.1', port: 80 });
    expect(parseHostPort('a'.repeat(253) + ':1')).toEqual({ host: 'a'.repeat(253), port: 1 });
  });

  it('refuses bad ports', () => {
    for (const s of ['h:', 'h:65536', 'h:99999', 'h:123456', 'h:-1', 'h:+1', 'h:1.5', 'h:1e3', 'h:0x10', 'h:abc', 'h: 80', 'h:80 x', 'h:٨٠', '[::1]:', '[::1]:70000', '[::1]:x']) {
      expectInvalid(s);
      expectInvalid(s, 7946);
    }
  });

  it('refuses missing ports without a default', () => {
    for (const s of ['host', '[::1]', '::1', '10.0.0.1']) expectInvalid(s);
  });

  it('refuses empty and malformed hosts', () => {
    for (const s of ['', '   ', '\t\n', ':80', '[]:80', '[]', '[::1', '[::1]80', '[::1]x:80', 'a b:80', 'a\tb:80', 'a/b:80', 'http://a:80', 'a'.repeat(254) + ':1', '[[a]:80', '[a[b]:80', 'a]:80', 'a[b:80']) {
      expectInvalid(s, 7946);
    }
  });

  it('formatHostPort round-trips with parseHostPort', () => {
    const cases = ['127.0.0.1:7946', '[::1]:7946', '[fe80::1%eth0]:80', 'node-1:1', 'x:0'];
    for (const s of cases) expect(formatHostPort(parseHostPort(s))).toBe(s);
    expect(formatHostPort({ host: '::1', port: 5 })).toBe('[::1]:5');
    expect(formatHostPort({ host: 'h', port: 5 })).toBe('h:5');
  });

  it('arbitrary strings parse or throw ERR_INVALID_ADDRESS, and what parses round-trips', () => {
    const chars = fc.constantFrom(...'[]:.%/ \t0123456789abcf-'.split(''));
    const addressy = fc.string({ unit: chars, maxLength: 24 });
    const input = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), addressy);
    const defaultPort = fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined });
    fc.assert(
      fc.property(input, defaultPort, (s, dp) => {
        let hp;
        try {
          hp = parseHostPort(s, dp);
        } catch (err) {
          expect(err).toBeInstanceOf(GrapevineError);
          expect((err as GrapevineError).code).toBe('ERR_INVALID_ADDRESS');
          return;
        }
        expect(hp.host.length).toBeGreaterThan(0);
        expect(hp.host.length).toBeLessThanOrEqual(253);
        expect(hp.host).toBe(hp.host.trim());
        expect(Number.isInteger(hp.port) && hp.port >= 0 && hp.port <= 65535).toBe(true);
        expect(parseHostPort(formatHostPort(hp))).toEqual(hp);
      }),
      { numRuns: 1500 },
    );
  });

  it('valid host/port pairs round-trip through formatHostPort', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    const dns = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
    const v4 = fc.ipV4();
    const v6 = fc.ipV6();
    fc.assert(
      fc.property(fc.oneof(dns, v4, v6), fc.integer({ min: 0, max: 65535 }), (host, port) => {
        expect(parseHostPort(formatHostPort({ host, port }))).toEqual({ host, port });
      }),
      { numRuns: 500 },
    );
  });
});

describe('isIpLiteral and parseDialAddress', () => {
  // Node's isIP is the reference for what a socket takes without a lookup; the core can't import it.
  const cases = [
    '127.0.0.1', '10.0.0.255', '255.255.255.255', '0.0.0.0', '::1', '::', 'fd00::5', '2001:db8::1:2',
    '::ffff:127.0.0.1', '1:2:3:4:5:6:7:8',
    '256.1.1.1', '127.1', '0x7f000001', '01.2.3.4', '1.2.3', 'localhost', 'example.invalid', '', ':::',
    '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '::1::2', '1.2.3.4.5',
  ];
  it.each(cases)('%s agrees with node:net isIP', (h) => {
    expect(isIpLiteral(h)).toBe(isIP(h) !== 0);
  });

  it('accepts ip:port and refuses names, port 0 and garbage with ERR_INVALID_ADDRESS', () => {
    expect(parseDialAddress('127.0.0.1:7946', 'x')).toEqual({ host: '127.0.0.1', port: 7946 });
    expect(parseDialAddress('[::1]:1', 'x')).toEqual({ host: '::1', port: 1 });
    for (const bad of ['localhost:7946', '127.1:7946', '1.2.3.4:0', 'nope', '[zz]:1']) {
      expect(() => parseDialAddress(bad, 'x')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
    }
  });
});
