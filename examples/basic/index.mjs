// Three nodes in one process: start a seed, join two more to it, print what each node sees, let
// one leave gracefully, and print again. Run from the repository root:
//   node examples/basic/index.mjs
import { createCluster } from '@grapevine/node';

/** Poll `pred` until it holds; gossip converges in the background, so the demo waits for it. */
async function waitFor(what, pred, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function printMembers(cluster) {
  console.log(`members seen by ${cluster.name}:`);
  const sorted = cluster.members().sort((a, b) => a.name.localeCompare(b.name));
  for (const m of sorted) {
    console.log(`  ${m.name.padEnd(8)} ${m.address.padEnd(21)} ${m.state.padEnd(7)} role=${m.meta.role ?? '-'}`);
  }
}

// Port 0: the OS picks a free port, so the example never collides with anything already running.
// The 'fast' profile probes every 300 ms instead of 1 s; it suits one machine.
const alpha = await createCluster({ name: 'alpha', bind: '127.0.0.1:0', profile: 'fast', meta: { role: 'seed' } });
console.log(`started alpha on ${alpha.localNode.address}`);

// Every later node needs one address of any existing member; alpha's will do.
const seed = alpha.localNode.address;
const beta = await createCluster({ name: 'beta', bind: '127.0.0.1:0', profile: 'fast', join: seed, meta: { role: 'worker' } });
const gamma = await createCluster({ name: 'gamma', bind: '127.0.0.1:0', profile: 'fast', join: seed, meta: { role: 'worker' } });
console.log(`started beta on ${beta.localNode.address} and gamma on ${gamma.localNode.address}, both joining ${seed}`);

// Joining talks to the seed only; the others learn of each other by gossip a moment later.
const nodes = [alpha, beta, gamma];
await waitFor('all three to see each other', () => nodes.every((n) => n.members({ state: 'alive' }).length === 3));
console.log('converged: every node sees 3 alive members');
printMembers(beta);

// A graceful leave tells the others before closing, so they record "left" at once instead of
// suspecting a failure and waiting out the suspicion timeout.
await gamma.leave();
console.log('gamma left');
await waitFor('the others to see gamma as left', () => [alpha, beta].every((n) => n.member('gamma')?.state === 'left'));
printMembers(alpha);
console.log(`counts on alpha: ${JSON.stringify(alpha.counts())}`);

await beta.leave();
await alpha.leave();
console.log('done');
