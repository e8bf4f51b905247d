/**
 * Black-box tests of how the built CLI treats the files its flags name: a key file (or token,
 * config) that is a device, a FIFO, a directory or larger than a keyring can be is one line on
 * stderr and exit 2, before anything is read or bound (it used to read /dev/zero until memory ran
 * out and hang on a FIFO); a key file group or others may read is warned about; `keygen --out`
 * writes a 0600 file and never overwrites one without --force; SIGHUP with a bad file keeps the
 * running keyring.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeKey, MAX_KEY_FILE_BYTES } from '@grapevine/node';
import { agentFixture, CLI, type Agent } from './cli-harness.js';

/** Runs the CLI with a deadline, asynchronously (a FIFO that hangs the agent must not hang the test). */
function runCli(args: string[], ms = 15_000): Promise<{ status: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, ms);
    p.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, timedOut });
    });
  });
}

describe('grapevine CLI: the files flags name (built dist/cli.js)', () => {
  const fx = agentFixture('grapevine-cli-files-');
  const path = (name: string): string => join(fx.dir(), name);
  const newKey = async (): Promise<string> => (await runCli(['keygen'])).stdout.trim();

  it('refuses a device, a FIFO, a directory and an oversized --key-file with one line and exit 2', async () => {
    const fifo = path('fifo.key');
    execFileSync('mkfifo', [fifo]);
    const dir = path('a-dir.key');
    mkdirSync(dir);
    const big = path('big.key');
    writeFileSync(big, `${await newKey()}\n${`# ${'x'.repeat(70)}\n`.repeat(Math.ceil(MAX_KEY_FILE_BYTES / 72) + 1)}`, { mode: 0o600 });
    const cases: [string, RegExp][] = [
      ['/dev/zero', /^grapevine agent: --key-file: key file \/dev\/zero: not a regular file \(a character device\)$/],
      [fifo, /: not a regular file \(a FIFO\)$/],
      [dir, /: not a regular file \(a directory\)$/],
      [big, new RegExp(`: larger than ${MAX_KEY_FILE_BYTES} bytes$`)],
    ];
    const results = await Promise.all(cases.map(([file]) => runCli(['agent', '--bind', '127.0.0.1:0', '--key-file', file])));
    results.forEach((r, i) => {
      const [file, message] = cases[i]!;
      expect(r.timedOut, `${file} hung the agent`).toBe(false);
      expect(r.status, `${file}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), file).toHaveLength(1);
      expect(r.stderr.trimEnd(), file).toMatch(message);
      expect(r.stdout).toBe(''); // nothing bound, no ready line
    });
  }, 60_000);

  it('applies the same rules to --ws-token-file, --ws-cert-file and --config', async () => {
    const fifo = path('fifo.any');
    execFileSync('mkfifo', [fifo]);
    const cases: [string[], RegExp][] = [
      [['--transport', 'ws', '--ws-token-file', '/dev/zero'], /^grapevine agent: --ws-token-file \/dev\/zero: not a regular file \(a character device\)$/],
      [['--transport', 'ws', '--ws-token-file', fifo], /^grapevine agent: --ws-token-file .*: not a regular file \(a FIFO\)$/],
      [['--transport', 'ws', '--ws-cert-file', '/dev/zero', '--ws-key-file', '/dev/zero'], /^grapevine agent: --ws-cert-file \/dev\/zero: not a regular file/],
      [['--config', fifo], /^grapevine agent: --config .*: not a regular file \(a FIFO\)$/],
      [['--config', '/dev/zero'], /^grapevine agent: --config \/dev\/zero: not a regular file/],
    ];
    const results = await Promise.all(cases.map(([flags]) => runCli(['agent', '--bind', '127.0.0.1:0', ...flags])));
    results.forEach((r, i) => {
      const [flags, message] = cases[i]!;
      expect(r.timedOut, flags.join(' ')).toBe(false);
      expect(r.status, flags.join(' ')).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr.trimEnd()).toMatch(message);
    });
  }, 60_000);

  it('warns once on stderr about a key file (or token file) group or others may read, and not about a 0600 one', async () => {
    const open = path('open.key');
    writeFileSync(open, `${await newKey()}\n`);
    chmodSync(open, 0o644);
    const a = fx.startAgent('open', ['--key-file', open]);
    await a.waitReady();
    await a.until(() => a.stderr.includes('readable by group or others'), 'the warning');
    const lines = a.stderr.split('\n').filter((l) => l.includes('readable by group or others'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, msg: `--key-file ${open} is readable by group or others (mode 0644); chmod 600 it` });

    const token = path('open.token');
    writeFileSync(token, 'sesame\n');
    chmodSync(token, 0o640);
    const w = fx.startAgent('open-ws', ['--transport', 'ws', '--ws-token-file', token]);
    await w.waitReady();
    await w.until(() => w.stderr.includes('readable by group or others'), 'the token warning');
    expect(w.stderr).toContain(`--ws-token-file ${token} is readable by group or others (mode 0640); chmod 600 it`);
    expect(w.stderr).not.toContain('sesame');

    const closed = path('closed.key');
    writeFileSync(closed, `${await newKey()}\n`, { mode: 0o600 });
    const b = fx.startAgent('closed', ['--key-file', closed], 'info');
    await b.waitReady();
    await b.until(() => b.stderr.includes('agent listening'), 'the listening log line');
    expect(b.stderr).not.toContain('readable by group or others');
  }, 60_000);

  it('keygen --out writes a 0600 key file, refuses to overwrite it without --force, replaces it with --force', async () => {
    const out = path('new.key');
    const first = await runCli(['keygen', '--out', out]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^wrote a new key to .* \(mode 0600, key id 0x[0-9a-f]{2}\)\n$/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const key1 = readFileSync(out, 'utf8');
    expect(decodeKey(key1.trim())).toHaveLength(32);

    const again = await runCli(['keygen', '--out', out]);
    expect(again.status).toBe(2);
    expect(again.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/exists; pass --force to replace it/);
    expect(readFileSync(out, 'utf8')).toBe(key1);

    chmodSync(out, 0o644);
    const forced = await runCli(['keygen', '--out', out, '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).not.toBe(key1);

    const noOut = await runCli(['keygen', '--force']);
    expect(noOut.status).toBe(2);
    expect(existsSync(path('--force'))).toBe(false);
  }, 60_000);

  it('SIGHUP with a FIFO, /dev/zero-like or oversized key file logs one error and keeps the keyring', async () => {
    const keys = path('reload.key');
    writeFileSync(keys, `${await newKey()}\n`, { mode: 0o600 });
    const a = fx.startAgent('reload', ['--key-file', keys], 'info');
    await a.waitReady();
    const failures = (x: Agent): { msg: string; error: string }[] =>
      x.stderr.split('\n').filter((l) => l.includes('key file reload failed')).map((l) => JSON.parse(l) as { msg: string; error: string });
    const hup = async (why: RegExp): Promise<void> => {
      const before = failures(a).length;
      a.kill('SIGHUP');
      await a.until(() => failures(a).length > before, 'the reload to fail');
      expect(failures(a).at(-1)!.error).toMatch(why);
    };
    // The path becomes a FIFO: the reload must not block the agent waiting for a writer.
    execFileSync('rm', [keys]);
    execFileSync('mkfifo', [keys]);
    await hup(/not a regular file \(a FIFO\)/);
    execFileSync('rm', [keys]);
    execFileSync('ln', ['-s', '/dev/zero', keys]);
    await hup(/not a regular file \(a character device\)/);
    execFileSync('rm', [keys]);
    writeFileSync(keys, `${await newKey()}\n${'#'.repeat(MAX_KEY_FILE_BYTES)}\n`, { mode: 0o600 });
    await hup(/larger than/);
    // Still running, still answering, keyring unchanged (a good file reloads with "no change" only if it is the same key).
    const exited = await Promise.race([a.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 200))]);
    expect(exited).toBe(false);
    expect(a.stderr).not.toContain('keyring changed');
  }, 60_000);
});
