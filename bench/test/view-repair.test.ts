import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const script = fileURLToPath(new URL('../dist/view-repair.js', import.meta.url));

it('view-repair bench: every scenario runs with the digest on and off and reports repair times', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--n', '8', '--seeds', '1', '--off-seeds', '1', '--limit-ms', '20000'], { timeout: 50_000 });
  const rows = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(rows[0]).toMatchObject({ type: 'meta', bench: 'view-repair', n: 8, simulated: true });
  const results = rows.slice(1);
  expect(results.map((r) => `${String(r.scenario)}/${String(r.view_digest)}`)).toEqual([
    'missed/true', 'missed/false', 'pause/true', 'pause/false', 'starve/true', 'starve/false',
  ]);
  for (const r of results) {
    expect(r.seeds).toBe(1);
    expect(r.repair_ms_max).toBeGreaterThanOrEqual(0);
    expect(r.repair_ms_max).toBeLessThanOrEqual(20_000);
  }
  // The missed-gossip run diverges by construction; the digest repairs it, nothing else does in 20 s.
  expect(results[0]).toMatchObject({ diverged: 1, unrepaired: 0 });
  expect(results[1]).toMatchObject({ diverged: 1, unrepaired: 1 });
});
