/**
 * Runs the example as its README says (`node examples/kv/index.mjs` from the repository root) over
 * real sockets with createCluster, and checks the lines the README promises.
 */
import { describe, expect, it } from 'vitest';
import { runExample } from '../../../test-support/run-example.js';

describe('examples/kv', () => {
  it('stores, reads anywhere, expires, survives a crash and deletes', async () => {
    const { code, stdout, stderr } = await runExample('examples/kv/index.mjs', 60_000);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('four nodes, each with a KV: RF=3, W=2, R=1');
    expect(stdout).toMatch(/owners of user:42: (ant|bee|cat|dog), (ant|bee|cat|dog), (ant|bee|cat|dog)\n/);
    expect(stdout).toContain('read from bee: {"name":"Ada","plan":"pro"}');
    expect(stdout).toContain('session:1 before expiry: token');
    expect(stdout).toContain('session:1 after expiry: undefined');
    expect(stdout).toMatch(/crashed \w+; read from \w+: \{"name":"Ada","plan":"pro"\}/);
    expect(stdout).toContain('after delete: undefined');
    expect(stdout.trimEnd().endsWith('done')).toBe(true);
  }, 90_000);
});
