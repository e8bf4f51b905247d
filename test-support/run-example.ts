/**
 * Runs an example exactly as its README says (`node examples/<name>/index.mjs` from the repository
 * root) and hands back its exit code and output. The child imports the built `grapevine` package
 * (dist/), which `pnpm test` builds first.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

export function runExample(script: string, timeout = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // The kill timeout is the backstop that guarantees no child outlives the test.
    execFile(process.execPath, [script], { cwd: root, timeout }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
