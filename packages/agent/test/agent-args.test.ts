import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeKey, generateKey } from '@grapevine/crypto';
import { parseAgentArgs } from '../src/agent-args.js';
import { UsageError } from '../src/usage-error.js';

const dir = mkdtempSync(join(tmpdir(), 'grapevine-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(value: unknown): string {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

function usageError(argv: string[]): string {
  try {
    parseAgentArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).not.toMatch(/\n/);
    return (err as Error).message;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('grapevine agent flags', () => {
  it('has memberlist-like defaults', () => {
    expect(parseAgentArgs([])).toEqual({
      name: hostname(), bind: '0.0.0.0:7946', seeds: [], transport: 'udp+tcp', meta: {}, overrides: {}, events: undefined, logLevel: 'info', warnings: [],
    });
  });

  it('takes repeatable --join and --meta, normalises addresses and defaults the seed port', () => {
    const s = parseAgentArgs(['--join', '10.0.0.1', '--join', '10.0.0.2:8000', '--join', '10.0.0.2:8000', '--meta', 'a=1', '--meta', 'b=x=y', '--bind', '[::1]:0', '--http', '127.0.0.1:0', '--events', 'json', '--transport', 'tcp', '--name', 'n1'])!;
    expect(s.seeds).toEqual(['10.0.0.1:7946', '10.0.0.2:8000']);
    expect(s.meta).toEqual({ a: '1', b: 'x=y' });
    expect(s.bind).toBe('[::1]:0');
    expect(s).toMatchObject({ http: '127.0.0.1:0', events: 'json', transport: 'tcp', name: 'n1' });
  });

  it('merges --config with flags, flags winning', () => {
    const file = configFile({ profile: 'fast', probeInterval: 800, meta: { zone: 'a', rack: '1' }, seeds: ['10.0.0.9:7946'], limits: { maxMetaKeys: 8 } });
    const s = parseAgentArgs(['--config', file, '--meta', 'zone=b', '--join', '10.0.0.8:7946', '--profile', 'lan'])!;
    expect(s.profile).toBe('lan');
    expect(s.overrides).toEqual({ probeInterval: 800, limits: { maxMetaKeys: 8 } });
    expect(s.meta).toEqual({ zone: 'b', rack: '1' });
    expect(s.seeds).toEqual(['10.0.0.9:7946', '10.0.0.8:7946']);
  });

  it('refuses reserved and malformed flags with one line', () => {
    expect(usageError(['--kv-resp', '127.0.0.1:0'])).toMatch(/--kv-resp needs --kv/);
    expect(usageError(['--kv', '--kv-write-quorum', '4'])).toMatch(/more than the replicas/);
    expect(usageError(['--kv', '--kv-replicas', 'x'])).toMatch(/--kv-replicas must be an integer/);
    expect(usageError(['--kv', '--kv-resp', 'nohost'])).toMatch(/--kv-resp/);
    expect(parseAgentArgs(['--mesh'])!.mesh).toBe(true);
    expect(parseAgentArgs([])!.mesh).toBeUndefined();
    expect(usageError(['--transport', 'quic'])).toMatch(/udp\+tcp, tcp or ws/);
    expect(usageError(['--bind', 'host:99999'])).toMatch(/--bind/);
    expect(usageError(['--advertise', 'nohost'])).toMatch(/--advertise/);
    expect(usageError(['--join', 'ws://x:1/p'])).toMatch(/ws:\/\/ seeds need transport 'ws'/);
    expect(usageError(['--meta', 'novalue'])).toMatch(/KEY=VALUE/);
    expect(usageError(['--meta', '=v'])).toMatch(/KEY=VALUE/);
    expect(usageError(['--events', 'text'])).toMatch(/--events/);
    expect(usageError(['--profile', 'turbo'])).toMatch(/--profile/);
    expect(usageError(['--log-level', 'loud'])).toMatch(/--log-level/);
    expect(usageError(['--bind'])).toMatch(/argument missing/);
    expect(usageError(['positional'])).toMatch(/positional|Unexpected/);
  });

  it('takes --key-file, --cipher, --label and --compress', () => {
    const k1 = generateKey();
    const k2 = generateKey();
    const file = join(dir, 'cluster.key');
    writeFileSync(file, `\uFEFF# primary first\r\n${encodeKey(k1)}\r\n\r\n  ${encodeKey(k2)}  \r\n`);
    const s = parseAgentArgs(['--key-file', file, '--cipher', 'aes-256-gcm', '--label', 'prod-eu', '--compress', 'snappy'])!;
    expect(s).toMatchObject({ keyFile: file, cipher: 'aes-256-gcm', label: 'prod-eu', compress: 'snappy' });
    expect(s.keys!.map((k) => [...k])).toEqual([[...k1], [...k2]]);
    expect(parseAgentArgs(['--compress', 'none'])!.compress).toBe('none');
    expect(parseAgentArgs(['--label', 'ünïcode'])!.label).toBe('ünïcode');
    expect(parseAgentArgs([])!.keys).toBeUndefined();
  });

  it('refuses bad key files and security flags with one line that never echoes a key', () => {
    const key = encodeKey(generateKey());
    const write = (text: string): string => {
      const f = join(dir, `k${Math.random().toString(36).slice(2)}.key`);
      writeFileSync(f, text);
      return f;
    };
    expect(usageError(['--key-file', join(dir, 'nope.key')])).toMatch(/^grapevine agent: --key-file: cannot read key file .*nope\.key: ENOENT$/);
    expect(usageError(['--key-file', write('')])).toMatch(/contains no key/);
    expect(usageError(['--key-file', write(`${key}\n${key.slice(0, 21)}\n`)])).toMatch(/line 2: not valid base64/);
    const oops = write(`${key}x\n`);
    expect(usageError(['--key-file', oops])).not.toContain(key);
    expect(usageError(['--cipher', 'aes-256-gcm'])).toMatch(/--cipher needs --key-file/);
    expect(usageError(['--key-file', write(key), '--cipher', 'des'])).toMatch(/--cipher must be one of/);
    expect(usageError(['--compress', 'lz4'])).toMatch(/--compress must be snappy or none/);
    expect(usageError(['--label', ''])).toMatch(/--label must not be empty/);
    expect(usageError(['--label', 'é'.repeat(128)])).toMatch(/255 bytes/);
  });

  it('takes every seed form in --join and --config seeds, normalized', () => {
    const file = configFile({ seeds: ['dns+srv://_gossip._tcp.grapevine.default.svc.cluster.local'], seedRefreshInterval: 5000 });
    const s = parseAgentArgs([
      '--config', file,
      '--join', 'node-1.internal',
      '--join', '[fd00::5]:8000',
      '--join', 'dns://grapevine.internal',
      '--join', 'DNS://grapevine.internal:7000',
    ])!;
    expect(s.seeds).toEqual([
      'dns+srv://_gossip._tcp.grapevine.default.svc.cluster.local',
      'node-1.internal:7946',
      '[fd00::5]:8000',
      'dns://grapevine.internal:7946',
      'dns://grapevine.internal:7000',
    ]);
    expect(s.seedRefreshInterval).toBe(5000);
    const ws = parseAgentArgs(['--transport', 'ws', '--join', 'wss://gossip.example.com/cluster', '--join', '10.0.0.1:7946'])!;
    expect(ws.seeds).toEqual(['wss://gossip.example.com/cluster', '10.0.0.1:7946']);
  });

  it('refuses bad seeds with one line naming the address', () => {
    expect(usageError(['--join', 'host:99999'])).toMatch(/^grapevine agent: --join: invalid seed address "host:99999": port out of range$/);
    expect(usageError(['--join', 'ftp://x:1'])).toMatch(/unsupported scheme "ftp:\/\/"/);
    expect(usageError(['--join', 'dns+srv://_g._tcp.example.com:53'])).toMatch(/takes no port/);
    expect(usageError(['--join', 'dns://a/b'])).toMatch(/no path/);
    expect(usageError(['--join', '10.0.0.256:7946'])).toMatch(/not a valid IPv4 address/);
    expect(usageError(['--join', ''])).toMatch(/empty/);
    expect(usageError(['--transport', 'tcp', '--join', 'wss://x/p'])).toMatch(/need transport 'ws'/);
    expect(usageError(['--transport', 'ws', '--join', 'ws://x:0/p'])).toMatch(/port 0/);
    expect(usageError(['--config', configFile({ seeds: ['a:1', 'b:-1'] })])).toMatch(/"b:-1"/);
    expect(usageError(['--config', configFile({ seedRefreshInterval: 5 })])).toMatch(/seedRefreshInterval/);
  });

  it('takes --transport ws with --ws-path, --ws-token-file and wss certificate files', () => {
    const token = join(dir, 'ws.token');
    writeFileSync(token, 'tok-123_abc\n');
    const pem = (kind: string): string => {
      const f = join(dir, `${kind.replace(/ /g, '')}.pem`);
      writeFileSync(f, `-----BEGIN ${kind}-----\nAAAA\n-----END ${kind}-----\n`);
      return f;
    };
    const s = parseAgentArgs(['--transport', 'ws', '--ws-path', '/cluster/gossip', '--ws-token-file', token, '--advertise', 'wss://lb.example.com/cluster/gossip'])!;
    expect(s).toMatchObject({ transport: 'ws', ws: { path: '/cluster/gossip', token: 'tok-123_abc' }, advertise: 'wss://lb.example.com/cluster/gossip' });
    expect(parseAgentArgs(['--transport', 'ws'])!.ws).toEqual({ path: '/grapevine' });
    const tls = parseAgentArgs(['--transport', 'ws', '--ws-cert-file', pem('CERTIFICATE'), '--ws-key-file', pem('PRIVATE KEY'), '--ws-ca-file', pem('CERTIFICATE')])!;
    expect(tls.ws).toMatchObject({ cert: expect.stringContaining('BEGIN CERTIFICATE'), key: expect.stringContaining('PRIVATE KEY'), ca: expect.stringContaining('CERTIFICATE') });
  });

  it('refuses bad WebSocket flags with one line that never echoes the token', () => {
    const write = (text: string): string => {
      const f = join(dir, `t${Math.random().toString(36).slice(2)}`);
      writeFileSync(f, text);
      return f;
    };
    expect(usageError(['--ws-path', '/g'])).toMatch(/^grapevine agent: --ws-path needs --transport ws$/);
    expect(usageError(['--transport', 'tcp', '--ws-token-file', write('x')])).toMatch(/--ws-token-file needs --transport ws/);
    expect(usageError(['--transport', 'ws', '--ws-path', 'nopath'])).toMatch(/--ws-path must start with "\/"/);
    expect(usageError(['--transport', 'ws', '--ws-path', '/a b'])).toMatch(/--ws-path/);
    expect(usageError(['--transport', 'ws', '--ws-token-file', join(dir, 'missing')])).toMatch(/cannot read --ws-token-file .*missing: ENOENT/);
    expect(usageError(['--transport', 'ws', '--ws-token-file', write('\n\n')])).toMatch(/empty/);
    const secret = 'secret with spaces';
    const msg = usageError(['--transport', 'ws', '--ws-token-file', write(secret)]);
    expect(msg).toMatch(/printable ASCII/);
    expect(msg).not.toContain(secret);
    expect(usageError(['--transport', 'ws', '--ws-token-file', write('one\ntwo\n')])).toMatch(/one token on one line/);
    expect(usageError(['--transport', 'ws', '--ws-cert-file', write('x')])).toMatch(/go together/);
    expect(usageError(['--transport', 'ws', '--ws-cert-file', write('not pem'), '--ws-key-file', write('not pem')])).toMatch(/not a PEM file/);
    expect(usageError(['--transport', 'ws', '--advertise', 'ws://h:1/p#frag'])).toMatch(/--advertise/);
    expect(usageError(['--transport', 'tcp', '--advertise', 'ws://h:1/p'])).toMatch(/--advertise/);
  });

  it('takes --multicast and its settings, and refuses bad ones', () => {
    expect(parseAgentArgs(['--multicast'])!.multicast).toEqual({});
    expect(parseAgentArgs(['--multicast', '--multicast-group', '239.1.2.3', '--multicast-port', '9000', '--multicast-interface', '127.0.0.1'])!.multicast)
      .toEqual({ group: '239.1.2.3', port: 9000, interface: '127.0.0.1' });
    expect(parseAgentArgs([])!.multicast).toBeUndefined();
    expect(usageError(['--multicast-port', '9000'])).toMatch(/--multicast-port needs --multicast/);
    expect(usageError(['--multicast', '--multicast-port', '0'])).toMatch(/--multicast-port must be a port number/);
    expect(usageError(['--multicast', '--multicast-port', '70000'])).toMatch(/--multicast-port/);
    expect(usageError(['--multicast', '--multicast-group', '10.0.0.1'])).toMatch(/multicast address/);
    expect(usageError(['--multicast', '--multicast-interface', 'no-such-if0'])).toMatch(/no network interface named "no-such-if0"/);
  });

  it('checks config types, keys and combinations', () => {
    expect(usageError(['--config', configFile({ tcpFallbackPing: 'yes' })])).toMatch(/tcpFallbackPing.*boolean/);
    expect(usageError(['--config', configFile({ limits: { maxWidgets: 1 } })])).toMatch(/unknown limit "maxWidgets"/);
    expect(usageError(['--config', configFile({ limits: { maxMembers: 1.5 } })])).toMatch(/positive integer/);
    expect(usageError(['--config', configFile({ meta: { a: 1 } })])).toMatch(/meta "a"/);
    expect(usageError(['--config', configFile({ profile: 'turbo' })])).toMatch(/profile/);
    expect(usageError(['--config', configFile({ probeInterval: -1 })])).toMatch(/probeInterval/);
    expect(usageError(['--config', configFile({ probeInterval: 300 }), '--profile', 'wan'])).toMatch(/probeTimeout/);
  });
});
