/**
 * Runs the example exactly as its README says (`node examples/stream/index.mjs` from the repository
 * root) and checks it exits 0 with the lines the README promises. The child imports the built
 * `grapevine` package (dist/), which `pnpm test` builds first.
 */
import { describe, expect, it } from 'vitest';
import { runExample } from '../../../test-support/run-example.js';



describe('examples/stream', () => {
  it('moves 20 MB intact through pipeline(), and a paused reader holds the sender to about one window', async () => {
    const { code, stdout, stderr } = await runExample('examples/stream/index.mjs');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/receiver got data\.bin: 20\.0 MB, sha256 [0-9a-f]{16}… matches the header/);
    expect(stdout).toMatch(/sender: verdict ok=true; 20\.0 MB in [\d.]+ s = \d+ MB\/s/);
    expect(stdout).toMatch(/receiver got data-2\.bin: 20\.0 MB, sha256 [0-9a-f]{16}… matches the header/);
    // Backpressure: while the receiver's sink is stalled, the sender pulls at most the window
    // (4 MB by default) plus what a few chunks of buffering on either side hold, never the file.
    const window = Number(/window ([\d.]+) MB/.exec(stdout)?.[1]);
    const pulled = Number(/meanwhile the sender pulled ([\d.]+) of 20\.0 MB/.exec(stdout)?.[1]);
    expect(window).toBeGreaterThan(0);
    expect(pulled).toBeGreaterThan(0);
    expect(pulled).toBeLessThanOrEqual(window + 1);
    expect(stdout).not.toContain('DOES NOT MATCH');
    expect(stdout.trimEnd().endsWith('done')).toBe(true);
  });
});
