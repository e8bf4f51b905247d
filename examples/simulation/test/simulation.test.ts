/**
 * Runs the simulation example exactly as docs/simulation.md says (`node
 * examples/simulation/index.mjs 7` from the repository root), twice at once: both runs print the
 * lines the doc promises, and the same seed prints exactly the same output (the run replays).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Virtual time: the run needs only CPU; the kill timeout is the backstop for a hung child.
    execFile(process.execPath, ['examples/simulation/index.mjs', ...args], { cwd: root, timeout: 150_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

describe('examples/simulation', () => {
  it('a seeded 100-node run with loss and a partition converges, splits, heals, and replays exactly', async () => {
    const [a, b] = await Promise.all([run(['7']), run(['7'])]);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^seed 7: 100 nodes, 10% packet loss$/m);
    expect(a.stdout).toMatch(/^joined: every node sees 100 alive after \d+\.\d s$/m);
    expect(a.stdout).toMatch(/^partitioned: each side sees only its own 50 alive after \d+\.\d s$/m);
    expect(a.stdout).toMatch(/^healed: every node sees 100 alive again after \d+\.\d s$/m);
    const stats = /^network: (\d+) messages delivered, (\d+) lost, (\d+) cut by the partition$/m.exec(a.stdout);
    expect(stats).not.toBeNull();
    expect(Number(stats![2])).toBeGreaterThan(0); // the loss really happened
    expect(Number(stats![3])).toBeGreaterThan(0); // so did the partition
    expect(b).toEqual(a);
  }, 180_000);

  it('refuses a seed that is not an integer (exit 2)', async () => {
    const r = await run(['x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage/);
  });
});
