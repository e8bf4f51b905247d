/**
 * Runs the example exactly as its README says (`node examples/usermessages/index.mjs` from the repository
 * root) and checks it exits 0 with the lines the README promises. The child imports the built
 * `grapevine` package (dist/), which `pnpm test` builds first.
 */
import { describe, expect, it } from 'vitest';
import { runExample } from '../../../test-support/run-example.js';



describe('examples/usermessages', () => {
  it('shows broadcast, direct sends, request/reply and its failures, sendToMany and a node group', async () => {
    const { code, stdout, stderr } = await runExample('examples/usermessages/index.mjs');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    // The broadcast reached the three others, exactly once each, and not the sender.
    for (const n of ['worker-1', 'worker-2', 'cache']) {
      expect(stdout.split(`[${n}] broadcast from api: "deploy 42 is rolling out" (broadcast=true)`).length - 1).toBe(1);
    }
    expect(stdout).not.toContain('[api] broadcast');
    expect(stdout).toContain('delivered to 3 nodes; the sender got its own copy: false');
    expect(stdout).toContain('[worker-1] direct message from api: {"seq":1}');
    expect(stdout).toContain('[worker-1] direct message from api: {"seq":2}');
    // Every request outcome, printed from err.code.
    expect(stdout).toContain('api <- worker-1: sum = 42');
    expect(stdout).toContain('remote error: ERR_REMOTE remoteCode=E_NEGATIVE from worker-1');
    expect(stdout).toContain('timeout: ERR_TIMEOUT');
    expect(stdout).toContain('no handler: ERR_NO_HANDLER');
    expect(stdout).toContain('aborted: ERR_ABORTED');
    expect(stdout).toContain('unknown node: ERR_UNREACHABLE');
    expect(stdout).toContain('sent to [cache, worker-1], failed: [nobody: ERR_UNREACHABLE]');
    expect(stdout).toContain('[worker-1] note from api');
    expect(stdout).toContain('[cache] note from api');
    // The group held the workers only, its send reached both, and it followed a metadata change.
    expect(stdout).toContain('group {role: worker} = [worker-1, worker-2]');
    expect(stdout).toContain('group.send reached [worker-1, worker-2]');
    expect(stdout).toContain('[worker-1] job job-7 from api');
    expect(stdout).toContain('[worker-2] job job-7 from api');
    expect(stdout).not.toContain('[cache] job');
    expect(stdout).toContain('group: cache joined the workers');
    expect(stdout).toContain('group {role: worker} = [cache, worker-1, worker-2]');
    expect(stdout).not.toContain('unexpectedly succeeded');
    expect(stdout.trimEnd().endsWith('done')).toBe(true);
  });
});
