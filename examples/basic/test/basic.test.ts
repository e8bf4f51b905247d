/**
 * Runs the example exactly as its README says (`node examples/basic/index.mjs` from the repository
 * root) and checks it exits 0 with the lines the README promises. The child imports the built
 * `grapevine` package (dist/), which `pnpm test` builds first.
 */
import { describe, expect, it } from 'vitest';
import { runExample } from '../../../test-support/run-example.js';



describe('examples/basic', () => {
  it('joins three nodes, lists them, and shows a graceful leave', async () => {
    const { code, stdout, stderr } = await runExample('examples/basic/index.mjs');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('converged: every node sees 3 alive members');
    expect(stdout).toMatch(/members seen by beta:\n\s+alpha\s+127\.0\.0\.1:\d+\s+alive\s+role=seed\n\s+beta\s+127\.0\.0\.1:\d+\s+alive\s+role=worker\n\s+gamma\s+127\.0\.0\.1:\d+\s+alive\s+role=worker/);
    expect(stdout).toMatch(/members seen by alpha:[\s\S]*gamma\s+127\.0\.0\.1:\d+\s+left/);
    expect(stdout).toContain('counts on alpha: {"alive":2,"suspect":0,"dead":0,"left":1}');
    expect(stdout.trimEnd().endsWith('done')).toBe(true);
  });
});
