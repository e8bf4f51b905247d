/** `grapevine demo`: its flags, and --chaos as a viewer meets it (a real process, ended by Ctrl-C). */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseDemoArgs } from '../src/demo.js';
import { UsageError } from '../src/usage-error.js';
import { CLI, httpGet, run } from './cli-harness.js';

describe('demo flags', () => {
  it('parses the defaults and every flag', () => {
    expect(parseDemoArgs([])).toEqual({ nodes: 5, http: '127.0.0.1:0', chaos: false, chaosIntervalMs: 8000, kv: false, mesh: false });
    expect(parseDemoArgs(['--nodes', '4', '--http', '127.0.0.1:9000', '--chaos', '--chaos-interval', '3', '--kv', '--mesh'])).toEqual({ nodes: 4, http: '127.0.0.1:9000', chaos: true, chaosIntervalMs: 3000, kv: true, mesh: true });
    expect(parseDemoArgs(['--help'])).toBeUndefined();
  });
  it.each([
    [['--nodes', '1']], [['--chaos', '--nodes', '2']], [['--chaos-interval', '3']], [['--chaos', '--chaos-interval', '0']],
    [['--chaos', '--chaos-interval', '2.5']], [['--chaos', '--chaos-interval', 'x']], [['--http', 'nope:port']], [['--frob']], [['extra']],
  ])('refuses %j with a usage error', (argv) => {
    expect(() => parseDemoArgs(argv)).toThrow(UsageError);
  });
  it('exits 2 on a bad flag', () => {
    const r = run(['demo', '--chaos-interval', '3']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--chaos-interval needs --chaos/);
  });
});

describe('demo --chaos', () => {
  it('serves the dashboard, pauses a node until it is suspected and it refutes, and Ctrl-C ends it with 0', async () => {
    const proc = spawn(process.execPath, [CLI, 'demo', '--chaos', '--chaos-interval', '1', '--nodes', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = (re: RegExp, ms: number): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = out.match(re);
        if (m) {
          clearTimeout(timer);
          proc.stdout.off('data', check);
          resolve(m);
        }
        return m !== null;
      };
      const timer = setTimeout(() => reject(new Error(`no ${re} in demo output:\n${out}`)), ms);
      proc.stdout.on('data', check);
      check();
    });
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    try {
      const url = (await seen(/dashboard: (http:\/\/\S+)/, 10_000))[1]!;
      expect((await httpGet(url)).body).toMatch(/Grapevine · node-1/);
      await seen(/chaos: node-2 is SUSPECT/, 30_000);
      await seen(/chaos: node-2 refuted the suspicion \(incarnation \d+ → \d+\)/, 15_000);
    } finally {
      proc.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/interrupted: stopping every node/);
  }, 60_000);
});
