/**
 * Runs the example exactly as its README says (`node examples/events/index.mjs` from the repository
 * root) and checks it exits 0 with the lines the README promises. The child imports the built
 * `grapevine` package (dist/), which `pnpm test` builds first.
 */
import { describe, expect, it } from 'vitest';
import { runExample } from '../../../test-support/run-example.js';



describe('examples/events', () => {
  it('reports joins, a metadata update, a crash as suspect then dead, and a graceful leave', async () => {
    const { code, stdout, stderr } = await runExample('examples/events/index.mjs');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    // Index of the first line matching; -1 fails the ordering checks below.
    const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
    for (const who of ['on alpha', 'watch bravo']) {
      const prefix = `\\[${who}\\]`;
      const suspect = at(new RegExp(`${prefix}\\s+suspect charlie \\(was alive\\)`));
      const dead = at(new RegExp(`${prefix}\\s+dead\\s+charlie \\(was suspect\\)`));
      const left = at(new RegExp(`${prefix}\\s+left\\s+delta \\(was alive\\)`));
      const updated = at(new RegExp(`${prefix}\\s+updated delta incarnation=1`));
      expect(updated, `${who} saw the metadata update`).toBeGreaterThanOrEqual(0);
      expect(suspect, `${who} saw charlie suspected`).toBeGreaterThanOrEqual(0);
      expect(dead, `${who} saw charlie dead after suspect`).toBeGreaterThan(suspect);
      expect(left, `${who} saw delta leave after charlie died`).toBeGreaterThan(dead);
    }
    expect(at(/\[on alpha\]\s+alive\s+bravo/)).toBeGreaterThanOrEqual(0);
    expect(at(/\[watch bravo\] iterator ended \(signal aborted\)/)).toBeGreaterThan(at(/\[watch bravo\]\s+left\s+delta/));
    expect(lines.some((l) => /dead\s+delta|suspect delta/.test(l))).toBe(false); // a leave is never a failure
    expect(stdout.trimEnd().endsWith('done')).toBe(true);
  });
});
