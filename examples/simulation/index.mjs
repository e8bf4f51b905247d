// A seeded, replayable 100-node run on the simulator: real Cluster code on an in-memory network
// with a virtual clock. 100 nodes join one seed with 10% of packets lost, the network is cut in
// two halves for 60 s, then healed; the run prints what every node saw and when (virtual time).
// The same seed prints the same lines, every time: `node examples/simulation/index.mjs [seed]`.
import { Cluster, seededRandom } from '@grapevine/core';
import { MemoryNetwork, VirtualClock } from '@grapevine/transport-memory';

const seed = Number(process.argv[2] ?? 42);
if (!Number.isInteger(seed)) {
  process.stderr.write('usage: node examples/simulation/index.mjs [integer seed]\n');
  process.exit(2);
}
const N = 100;

const clock = new VirtualClock();               // time moves only when we advance it
const net = new MemoryNetwork({ clock, seed, defaultDelay: 2, jitter: 3 }); // one-way 2..5 ms
net.setLoss('*', '*', 0.1);                     // 10% of best-effort (UDP-like) packets vanish

const nodes = [];
for (let i = 0; i < N; i++) {
  const cluster = await Cluster.create({
    name: `node-${String(i).padStart(3, '0')}`,
    transport: net.createTransport(`10.0.${i >> 8}.${i & 255}:7946`),
    clock,
    random: seededRandom(seed * 1000 + i),       // every random choice derives from the seed
    profile: 'lan',
  });
  nodes.push(cluster);
}

/** Advance virtual time in steps until `done()` or `limit` ms have passed; returns the time taken. */
async function runUntil(done, limit, step = 50) {
  const start = clock.now();
  while (!done()) {
    if (clock.now() - start > limit) throw new Error(`seed ${seed}: not done after ${limit} virtual ms`);
    await clock.advance(step);
  }
  return clock.now() - start;
}
const aliveSeen = (c) => c.members({ state: 'alive' }).length;
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

// 1. Everyone joins node-000 at once; a join completes while the clock runs.
const seedAddr = nodes[0].localNode.address;
let joined = 0;
const joins = nodes.slice(1).map((c) => c.join(seedAddr).then(() => joined++));
const joinTime = await runUntil(() => joined === N - 1, 60_000, 10);
await Promise.all(joins);
const convergeTime = joinTime + (await runUntil(() => nodes.every((c) => aliveSeen(c) === N), 120_000));
console.log(`seed ${seed}: ${N} nodes, 10% packet loss`);
console.log(`joined: every node sees ${N} alive after ${secs(convergeTime)}`);

// 2. Cut the network in two halves for 60 s: each side declares the other dead.
const half = N / 2;
const sideA = nodes.slice(0, half);
const sideB = nodes.slice(half);
net.partition(sideA.map((c) => c.localNode.address), sideB.map((c) => c.localNode.address));
const splitTime = await runUntil(() => nodes.every((c) => aliveSeen(c) === half), 120_000);
console.log(`partitioned: each side sees only its own ${half} alive after ${secs(splitTime)}`);
await clock.advance(60_000 - splitTime > 0 ? 60_000 - splitTime : 0);

// 3. Heal: the sides find each other again (nodes re-contact members they believe dead).
net.heal();
const healTime = await runUntil(() => nodes.every((c) => aliveSeen(c) === N), 180_000);
console.log(`healed: every node sees ${N} alive again after ${secs(healTime)}`);
console.log(`network: ${net.stats.delivered} messages delivered, ${net.stats.lost} lost, ${net.stats.partitioned} cut by the partition`);

for (const c of nodes) await c.close();
await net.close();
