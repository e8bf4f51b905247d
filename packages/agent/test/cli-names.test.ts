/**
 * Black-box tests of how `grapevine agent` resolves names (the built dist/cli.js): `--join
 * localhost:PORT` and `--join dns://localhost:PORT` join through the system resolver (localhost is
 * an /etc/hosts name a DNS query never finds), `--bind localhost:0` listens on loopback, and a
 * bad address in any flag exits 2 with one line on stderr.
 */
import { describe, expect, it } from 'vitest';
import { agentFixture, run } from './cli-harness.js';

describe('grapevine agent: names resolve like everywhere else (built dist/cli.js)', () => {
  const { startAgent, sees } = agentFixture('grapevine-cli-names-');

  it('joins through --join localhost:PORT and --join dns://localhost:PORT; binds --bind localhost:0', async () => {
    const seed = startAgent('n0');
    const ready = await seed.waitReady();
    expect(ready.addr).toMatch(/^127\.0\.0\.1:\d+$/);
    const port = ready.addr.split(':')[1]!;
    const plain = startAgent('n1', ['--join', `localhost:${port}`]);
    const dns = startAgent('n2', ['--join', `dns://localhost:${port}`]);
    // --bind comes later than the fixture's 127.0.0.1:0, so it wins (parseArgs keeps the last).
    const bound = startAgent('n3', ['--bind', 'localhost:0', '--join', `127.0.0.1:${port}`]);
    expect((await bound.waitReady()).addr).toMatch(/^127\.0\.0\.1:\d+$/);
    await sees([seed, dns, bound], 'n1');
    await sees([seed, plain, bound], 'n2');
    await sees([seed, plain, dns], 'n3');
  });

  it('a bad address in --bind, --advertise, --http or --join exits 2 with one line on stderr', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--bind', '300.1.1.1:7000'], /--bind: .*"300\.1\.1\.1" is not a valid IPv4 address/],
      [['--bind', '127.0.0.1:70000'], /--bind: .*port out of range/],
      [['--bind', 'bad_host!:7000'], /--bind: .*neither an IP address nor a host name/],
      [['--advertise', '10.0.0.256:7000'], /--advertise: .*not a valid IPv4 address/],
      [['--http', '300.0.0.1:8080'], /--http: .*not a valid IPv4 address/],
      [['--join', '300.1.1.1:7946'], /--join: .*not a valid IPv4 address/],
      [['--join', 'dns://300.1.1.1'], /--join: .*not a valid IPv4 address/],
    ];
    for (const [args, message] of cases) {
      const r = run(['agent', '--name', 'bad', '--log-level', 'silent', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});
