/**
 * Runs the example exactly as its README says (`node examples/mesh/index.mjs` from the repository
 * root): three replica processes stay coherent — a write on one is read fresh on the others, and
 * through a write loop across all three every read returns the latest write. The children import
 * the built packages (dist/), which `pnpm test` builds first.
 */
import { describe, expect, it } from 'vitest';
import { runExample } from '../../../test-support/run-example.js';

describe('examples/mesh', () => {
  it('three replicas with LRU+TTL caches stay coherent through the invalidation bus', async () => {
    const { code, stdout, stderr } = await runExample('examples/mesh/index.mjs', 60_000);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/write on r2: price = "12 EUR" \(acknowledged by r1, r3\)/);
    for (const r of ['r1', 'r2', 'r3']) expect(stdout).toContain(`read  on ${r}: price = "12 EUR" (cache)`);
    expect(stdout).toMatch(/write loop: 60 writes across 3 replicas, every read fresh/);
    expect(stdout.trimEnd().endsWith('done')).toBe(true);
  }, 90_000);
});
