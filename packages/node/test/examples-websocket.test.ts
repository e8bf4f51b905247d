/**
 * examples/websocket runs as its README says (`node examples/websocket/index.mjs`): three nodes
 * mounted on their application's HTTP servers converge over WebSocket and the process exits 0.
 * It imports the built `grapevine` package (`pnpm test` builds first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const EXAMPLE = fileURLToPath(new URL('../../../examples/websocket/index.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../dist/index.js', import.meta.url));

describe('examples/websocket', () => {
  it('converges three WebSocket nodes on node:http servers and exits 0', () => {
    expect(existsSync(BUILT), `${BUILT} is missing: build first (pnpm exec tsc -b)`).toBe(true);
    const r = spawnSync(process.execPath, [EXAMPLE], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^node-1: http:\/\/127\.0\.0\.1:\d+\/ serves the page, gossip at ws:\/\/127\.0\.0\.1:\d+\/gossip$/m);
    for (const n of [1, 2, 3]) expect(r.stdout).toMatch(new RegExp(`^node-${n} sees alive: node-1, node-2, node-3$`, 'm'));
    expect(r.stdout).toMatch(/^converged: all 3 nodes see each other alive over WebSocket$/m);
    expect(r.stdout).toMatch(/^GET \/ on node-2: 200, lists 3 members$/m);
    expect(r.stderr).toBe('');
  });
});
