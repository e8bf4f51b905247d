import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const script = fileURLToPath(new URL('../dist/handshake.js', import.meta.url));

it('handshake bench: every measurement completes and reports per-connection cost and arrivals', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--clients', '2', '--servers', '3', '--rounds', '1', '--joiners', '4', '--busy-ms', '1'], { timeout: 30_000 });
  const rows = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(rows.map((r) => `${String(r.measure)}/${String(r.transport)}`)).toEqual(['cost/ws', 'accept/ws', 'cost/tcp', 'accept/tcp']);
  for (const r of rows) expect(r.ok).toBe(true);
  for (const r of rows.filter((x) => x.measure === 'cost')) {
    expect(r.connections).toBe(6);
    expect(r.cpu_ms_per_connection).toBeGreaterThan(0);
  }
  for (const r of rows.filter((x) => x.measure === 'accept')) expect(r.last_ms).toBeGreaterThanOrEqual(r.first_ms as number);
});
