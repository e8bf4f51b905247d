import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
      name: hostname(), bind: '0.0.0.0:7946', seeds: [], transport: 'udp+tcp', meta: {}, overrides: {}, events: undefined, logLevel: 'info',
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
    expect(usageError(['--key-file', 'k'])).toMatch(/--key-file is not supported yet/);
    expect(usageError(['--label', 'x'])).toMatch(/--label is not supported yet/);
    expect(usageError(['--compress', 'snappy'])).toMatch(/--compress is not supported yet/);
    expect(usageError(['--mesh'])).toMatch(/--mesh is not supported yet/);
    expect(usageError(['--transport', 'ws'])).toMatch(/not available yet/);
    expect(usageError(['--transport', 'quic'])).toMatch(/udp\+tcp or tcp/);
    expect(usageError(['--bind', 'host:99999'])).toMatch(/--bind/);
    expect(usageError(['--advertise', 'nohost'])).toMatch(/--advertise/);
    expect(usageError(['--join', 'ws://x:1/p'])).toMatch(/not supported yet/);
    expect(usageError(['--meta', 'novalue'])).toMatch(/KEY=VALUE/);
    expect(usageError(['--meta', '=v'])).toMatch(/KEY=VALUE/);
    expect(usageError(['--events', 'text'])).toMatch(/--events/);
    expect(usageError(['--profile', 'turbo'])).toMatch(/--profile/);
    expect(usageError(['--log-level', 'loud'])).toMatch(/--log-level/);
    expect(usageError(['--bind'])).toMatch(/argument missing/);
    expect(usageError(['positional'])).toMatch(/positional|Unexpected/);
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
