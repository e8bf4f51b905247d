// Leader election on five nodes (leader.mjs in this folder): elect a leader, let it write to a
// resource guarded by its fencing token, crash it, watch a new leader take over with a higher
// term, and watch the resource refuse a late write from the old one. Run from the repository root:
//   node examples/leader/index.mjs
import { createCluster } from '@grapevine/node';
import { LeaderElection } from './leader.mjs';

const SIZE = 5;
const LEASE_MS = 600; // short, so the demo is quick; see the README for choosing it
const t0 = performance.now();
const stamp = () => `+${String(Math.round(performance.now() - t0)).padStart(4)}ms`;

async function waitFor(what, pred, ms = 8000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * What a fencing token is for: a resource (a database row, a file, a lock service) that remembers
 * the highest token it has seen and refuses anything older. A leader that was deposed while it
 * was paused (GC, VM migration) and wakes up still believing it leads is stopped here.
 */
class FencedStore {
  highest = 0;
  value = undefined;
  write(token, value) {
    if (token < this.highest) return `refused (token ${token} < ${this.highest})`;
    this.highest = token;
    this.value = value;
    return `accepted (token ${token})`;
  }
}

const opts = { bind: '127.0.0.1:0', profile: 'fast' };
const first = await createCluster({ ...opts, name: 'node-1' });
const clusters = [first];
for (let i = 2; i <= SIZE; i++) clusters.push(await createCluster({ ...opts, name: `node-${i}`, join: first.localNode.address }));
await waitFor('the cluster to converge', () => clusters.every((c) => c.members({ state: 'alive' }).length === SIZE));
console.log(`${stamp()} ${SIZE} nodes up; a leader needs ${Math.floor(SIZE / 2) + 1} of ${SIZE} (clusterSize, not whoever is visible)`);

// One election per node. clusterSize is configuration, fixed: losing nodes never lowers the bar.
const elections = new Map();
for (const c of clusters) {
  const e = new LeaderElection(c, { clusterSize: SIZE, leaseMs: LEASE_MS });
  e.on('change', ({ isLeader, leader, term, reason }) => {
    if (isLeader) console.log(`${stamp()} [${c.name}] I am leader of term ${term}`);
    else if (leader) console.log(`${stamp()} [${c.name}] follows ${leader} (term ${term})`);
    else console.log(`${stamp()} [${c.name}] no leader (${reason})`);
  });
  elections.set(c.name, e);
}

const leaderNow = () => [...elections].filter(([, e]) => e.isLeader).map(([name]) => name);
const everyoneFollows = (name) => [...elections.values()].every((e) => e.leader === name);

// Nodes stay quiet for one lease after starting (they might have backed a leader before a
// restart), then the first to time out asks the others for votes.
await waitFor('a leader', () => leaderNow().length === 1);
const oldLeader = leaderNow()[0];
const oldTerm = elections.get(oldLeader).term;
await waitFor('everyone to follow it', () => everyoneFollows(oldLeader));
console.log(`${stamp()} leader: ${oldLeader}, term ${oldTerm}; all ${SIZE} nodes agree`);

const store = new FencedStore();
console.log(`${stamp()} ${oldLeader} writes "config v1": ${store.write(elections.get(oldLeader).term, 'config v1')}`);

// Crash the leader: close its sockets without a word. The others keep their promise not to elect
// anyone until its lease must have run out, then elect a successor in a higher term.
console.log(`${stamp()} ${oldLeader} crashes`);
const crashedAt = performance.now();
await clusters.find((c) => c.name === oldLeader).close();
elections.get(oldLeader).stop();
elections.delete(oldLeader);

await waitFor('a new leader', () => leaderNow().length === 1);
const newLeader = leaderNow()[0];
const newTerm = elections.get(newLeader).term;
await waitFor('the survivors to follow it', () => everyoneFollows(newLeader));
console.log(`${stamp()} new leader: ${newLeader}, term ${newTerm} (> ${oldTerm}), ${Math.round(performance.now() - crashedAt)} ms after the crash`);

console.log(`${stamp()} ${newLeader} writes "config v2": ${store.write(newTerm, 'config v2')}`);
// Had the old leader only been paused rather than dead, its late write would carry its old token:
console.log(`${stamp()} a late write from ${oldLeader} with its old token: ${store.write(oldTerm, 'config v1-late')}`);
console.log(`${stamp()} the store holds ${JSON.stringify(store.value)}`);

for (const e of elections.values()) e.stop();
for (const c of clusters) if (!c.closed) await c.leave();
console.log(`${stamp()} done`);
