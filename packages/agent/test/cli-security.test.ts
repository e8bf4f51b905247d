/**
 * Black-box tests of the built CLI's security flags: `grapevine keygen`; agents sharing a
 * --key-file and --label (with --compress snappy) form a cluster; an agent with another key never
 * sees them; a bad key file is one line on stderr and exit 2; SIGHUP re-reads the key file and
 * rotates the key on running agents (install → use → remove) with no one suspected.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeKey, keyId } from '@grapevine/node';
import { agentFixture, httpGet, run, type Agent } from './cli-harness.js';

/** How long an agent with the wrong key is given to (not) find the others. */
const NEVER_MS = 2500;

describe('grapevine CLI: keys, labels, compression (built dist/cli.js)', () => {
  const fx = agentFixture('grapevine-cli-sec-');
  const { startAgent, sees } = fx;
  const file = (name: string, text: string): string => {
    const path = join(fx.dir(), name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const keygen = (): string => {
    const r = run(['keygen']);
    expect(r.status).toBe(0);
    return r.stdout.trim();
  };
  /** A new key whose one-byte key id differs from `than`'s (random keys collide 1 time in 256). */
  const keygenOtherThan = (than: string): string => {
    for (;;) {
      const k = keygen();
      if (keyId(decodeKey(k)) !== keyId(decodeKey(than))) return k;
    }
  };

  const suspicions = (a: Agent): string[] => a.events.filter((e) => e.event === 'state' && e.state !== 'alive').map((e) => `${e.name}:${e.state}`);

  it('keygen prints one new 44-character base64 key (32 bytes) and exits 0', () => {
    const r = run(['keygen']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(Buffer.from(r.stdout.trim(), 'base64')).toHaveLength(32);
    expect(keygen()).not.toBe(r.stdout.trim());
    expect(run(['keygen', 'extra']).status).toBe(2);
  });

  it('agents sharing a --key-file and --label join; one with another key never sees them', async () => {
    const clusterKey = keygen();
    const keys = file('cluster.key', `# the cluster key\n${clusterKey}\n`);
    const flags = ['--key-file', keys, '--label', 'prod', '--compress', 'snappy'];
    const a = startAgent('k0', [...flags, '--http', '127.0.0.1:0']);
    const seed = (await a.waitReady()).addr;
    const b = startAgent('k1', [...flags, '--join', seed]);
    await sees([a], 'k1');
    await sees([b], 'k0');

    // Another key id, so the intruder's packets are refused as an unknown key, not a failed tag.
    const other = file('other.key', `${keygenOtherThan(clusterKey)}\n`);
    const x = startAgent('intruder', ['--key-file', other, '--label', 'prod', '--compress', 'snappy', '--join', seed]);
    await x.waitReady();
    await new Promise((r) => setTimeout(r, NEVER_MS));
    expect([...x.states.keys()]).toEqual([]);
    expect(a.states.has('intruder')).toBe(false);
    expect(b.states.has('intruder')).toBe(false);
    const metrics = await httpGet(`http://${a.ready!.http!}/metrics`);
    expect(metrics.body).toMatch(/^grapevine_drop_unknown_key [1-9]\d*$/m);
    expect(metrics.body).toMatch(/^grapevine_drop_auth_failed 0$/m);

    // The right key but another label: refused too.
    const y = startAgent('stranger', ['--key-file', keys, '--label', 'staging', '--compress', 'snappy', '--join', seed]);
    await y.waitReady();
    await new Promise((r) => setTimeout(r, NEVER_MS / 2));
    expect([...y.states.keys()]).toEqual([]);
    expect((await httpGet(`http://${a.ready!.http!}/metrics`)).body).toMatch(/^grapevine_drop_wrong_label [1-9]\d*$/m);
    expect(suspicions(a)).toEqual([]);
  });

  it('a bad key file (or security flag) prints one line on stderr and exits 2', () => {
    const key = keygen();
    const cases: [string[], RegExp][] = [
      [['--key-file', join(fx.dir(), 'missing.key')], /--key-file: cannot read key file .*missing\.key: ENOENT/],
      [['--key-file', fx.dir()], /--key-file: key file .*: not a regular file \(a directory\)/],
      [['--key-file', file('empty.key', '\n# nothing\n')], /contains no key/],
      [['--key-file', file('garbage.key', 'not a key at all\n')], /line 1: not valid base64/],
      [['--key-file', file('short.key', `${key}\n${Buffer.alloc(16).toString('base64')}\n`)], /line 2: a key must be 32 bytes/],
      [['--key-file', file('twice.key', `${key}\n${key}\n`)], /line 2: the same key as line 1/],
      [['--cipher', 'aes-256-gcm'], /--cipher needs --key-file/],
      [['--key-file', file('ok.key', `${key}\n`), '--cipher', 'rot13'], /--cipher must be one of xchacha20-poly1305, aes-256-gcm/],
      [['--compress', 'gzip'], /--compress must be snappy or none/],
      [['--label', ''], /--label must not be empty/],
      [['--label', 'x'.repeat(256)], /at most 255 bytes/],
    ];
    for (const [args, message] of cases) {
      const r = run(['agent', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toContain(key); // a key is never echoed
    }
  });

  it('SIGHUP re-reads the key file: a key rotates across running agents with no one suspected', async () => {
    const k1 = keygen();
    const k2 = keygenOtherThan(k1);
    const keys = file('rotating.key', `${k1}\n`);
    const flags = ['--key-file', keys, '--cipher', 'aes-256-gcm', '--label', 'rot'];
    const r0 = startAgent('r0', flags, 'info');
    const seed = (await r0.waitReady()).addr;
    const r1 = startAgent('r1', [...flags, '--join', seed], 'info');
    const r2 = startAgent('r2', [...flags, '--join', seed], 'info');
    const ring = [r0, r1, r2];
    await sees([r1, r2], 'r0');
    await sees([r0, r2], 'r1');
    await sees([r0, r1], 'r2');

    type Reload = { msg: string; installed?: string[]; removed?: string[]; primary?: { from: string; to: string }; keys?: number; primaryKeyId?: string; error?: string };
    const reloads = (a: Agent): Reload[] =>
      a.stderr.split('\n').filter((l) => l.includes('key file reload')).map((l) => JSON.parse(l) as Reload);
    const step = async (text: string, check: (r: Reload) => void): Promise<void> => {
      writeFileSync(keys, text);
      const before = ring.map((a) => reloads(a).length);
      for (const a of ring) a.kill('SIGHUP');
      await Promise.all(ring.map((a, i) => a.until(() => reloads(a).length > before[i]!, 'the key file to be reloaded')));
      for (const a of ring) check(reloads(a).at(-1)!);
      await new Promise((r) => setTimeout(r, 400)); // traffic flows under the new keyring everywhere
    };
    const id = /^0x[0-9a-f]{2}$/;
    let oldId = '';
    // 1. install the new key everywhere
    await step(`${k1}\n${k2}\n`, (r) => {
      expect(r).toMatchObject({ msg: 'key file reloaded: keyring changed', installed: [expect.stringMatching(id)], removed: [], keys: 2 });
      expect(r.primary).toBeUndefined();
      oldId = r.primaryKeyId!;
    });
    // 2. use it everywhere
    await step(`${k2}\n${k1}\n`, (r) => {
      expect(r).toMatchObject({ msg: 'key file reloaded: keyring changed', installed: [], removed: [], keys: 2, primary: { from: oldId } });
      expect(r.primaryKeyId).not.toBe(oldId);
    });
    // 3. remove the old one everywhere
    await step(`${k2}\n`, (r) => expect(r).toMatchObject({ msg: 'key file reloaded: keyring changed', installed: [], removed: [oldId], keys: 1 }));
    await step(`${k2}\n`, (r) => expect(r).toMatchObject({ msg: 'key file reloaded: no change', keys: 1 }));
    // A broken file on SIGHUP is logged and changes nothing; the agent keeps running.
    await step('garbage\n', (r) => {
      expect(r.msg).toBe('key file reload failed; keyring unchanged');
      expect(r.error).toMatch(/line 1: not valid base64/);
    });

    // The cluster never noticed.
    for (const a of ring) expect(suspicions(a)).toEqual([]);
    const running = (a: Agent): Promise<boolean> => Promise.race([a.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 20))]);
    for (const a of ring) expect(await running(a)).toBe(true);
    // A node with the new key joins; one with only the old key cannot.
    const fresh = startAgent('r3', ['--key-file', file('new.key', `${k2}\n`), '--cipher', 'aes-256-gcm', '--label', 'rot', '--join', seed]);
    await sees([fresh], 'r0');
    await sees(ring, 'r3');
    const old = startAgent('r4', ['--key-file', file('old.key', `${k1}\n`), '--cipher', 'aes-256-gcm', '--label', 'rot', '--join', seed]);
    await old.waitReady();
    await new Promise((r) => setTimeout(r, NEVER_MS / 2));
    expect([...old.states.keys()]).toEqual([]);
    for (const a of [...ring, fresh]) expect(a.states.has('r4')).toBe(false);
  });
});
