// A replicated key-value store across four nodes in one process, over real UDP+TCP sockets on
// loopback: every key lives on 3 owners (RF=3), a write waits for 2 of them (W=2), a read asks 1
// (R=1). Run from the repository root:
//   node examples/kv/index.mjs
import { jsonCodec } from '@grapevine/core';
import { createKv } from '@grapevine/kv';
import { createCluster } from '@grapevine/node';

async function waitFor(what, pred, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Values go through a codec: JSON here, so any JSON value can be stored (without one, values are bytes).
const options = { valueCodec: jsonCodec };
const names = ['ant', 'bee', 'cat', 'dog'];
const nodes = [];
for (const name of names) {
  const cluster = await createCluster({ name, bind: '127.0.0.1:0', profile: 'fast', join: nodes[0]?.cluster.localNode.address });
  nodes.push({ cluster, kv: await createKv(cluster, options) });
}
// Every node places keys on the members that run the KV; wait until all four agree on them.
await waitFor('every node to see four KV members', () => nodes.every((n) => n.kv.stats().members === 4));
console.log('four nodes, each with a KV: RF=3, W=2, R=1');

const [ant, bee, cat] = nodes;
await ant.kv.set('user:42', { name: 'Ada', plan: 'pro' });
console.log(`owners of user:42: ${ant.kv.owners('user:42').join(', ')}`);
console.log(`read from bee: ${JSON.stringify(await bee.kv.get('user:42'))}`);

// A TTL travels with the value: every replica expires it at the same moment.
await ant.kv.set('session:1', 'token', { ttl: 5000 });
const entry = await cat.kv.getEntry('session:1');
console.log(`session:1 before expiry: ${entry?.value}`);
await new Promise((r) => setTimeout(r, Math.max(0, entry.expiresAt - Date.now()) + 50));
console.log(`session:1 after expiry: ${await cat.kv.get('session:1')}`);

// Crash one owner of user:42 (close without leaving): the other two still hold it.
const victimName = ant.kv.owners('user:42')[0];
const victim = nodes.find((n) => n.cluster.name === victimName);
victim.kv.close();
await victim.cluster.close();
const reader = nodes.find((n) => n !== victim);
console.log(`crashed ${victimName}; read from ${reader.cluster.name}: ${JSON.stringify(await reader.kv.get('user:42'))}`);

// Deletes are tombstones: the key is gone on every owner.
await reader.kv.delete('user:42');
console.log(`after delete: ${await reader.kv.get('user:42', { r: 2 })}`);

for (const n of nodes) {
  if (n === victim) continue;
  n.kv.close();
  await n.cluster.leave();
}
console.log('done');
