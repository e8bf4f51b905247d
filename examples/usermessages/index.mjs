// Application messages between four nodes in one process: a gossiped broadcast, a direct send, a
// request/reply (with its error cases caught by code), a send to several nodes, and a node group
// chosen by metadata. Run from the repository root:
//   node examples/usermessages/index.mjs
import { createCluster } from '@grapevine/node';

// Types 0..127 are Grapevine's own; applications pick theirs from 128..65535.
const CHAT = 200; // broadcast to everyone, forwarded node to node
const PING = 201; // direct, never forwarded
const ADD = 202; // request/reply
const SLOW = 203; // request/reply that answers too late
const NOTE = 204; // sendToMany
const JOB = 205; // sent to a node group

async function waitFor(what, pred, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const opts = { bind: '127.0.0.1:0', profile: 'fast' };
const api = await createCluster({ ...opts, name: 'api', meta: { role: 'api' } });
const seed = api.localNode.address;
const w1 = await createCluster({ ...opts, name: 'worker-1', join: seed, meta: { role: 'worker' } });
const w2 = await createCluster({ ...opts, name: 'worker-2', join: seed, meta: { role: 'worker' } });
const cache = await createCluster({ ...opts, name: 'cache', join: seed, meta: { role: 'cache' } });
const all = [api, w1, w2, cache];
await waitFor('the cluster to converge', () => all.every((n) => n.members({ state: 'alive' }).length === all.length));
console.log(`cluster up: ${api.members().map((m) => `${m.name}(${m.meta.role})`).join(' ')}`);

// Every handler receives (payload, info); info.from names the sender (for a broadcast, its origin).
const received = [];
for (const node of all) {
  // Broadcast handlers forward by default: each node that gets the message passes it on, so it
  // reaches everyone even when the origin cannot reach some nodes directly.
  node.handle(CHAT, (text, info) => {
    received.push(`chat@${node.name}`);
    console.log(`[${node.name}] broadcast from ${info.from}: ${JSON.stringify(text)} (broadcast=${info.broadcast})`);
  });
  // forward:false: this node consumes the message and never relays it. Right for direct messages
  // (and for broadcasts that only the origin's own pushes should carry).
  node.handle(PING, (payload, info) => {
    received.push(`ping@${node.name}`);
    console.log(`[${node.name}] direct message from ${info.from}: ${JSON.stringify(payload)}`);
  }, { forward: false });
  node.handle(NOTE, (payload, info) => {
    received.push(`note@${node.name}`);
    console.log(`[${node.name}] note from ${info.from}: ${JSON.stringify(payload)}`);
  }, { forward: false });
  node.handle(JOB, (job, info) => {
    received.push(`job@${node.name}`);
    console.log(`[${node.name}] job ${job.id} from ${info.from} (role=${node.localNode.meta.role})`);
  }, { forward: false });
}

// --- 1. broadcast: gossip to every other live member (not back to the sender) -------------------
console.log('\n1. api broadcasts');
api.broadcast(CHAT, 'deploy 42 is rolling out');
await waitFor('the broadcast to reach the other three', () => received.filter((r) => r.startsWith('chat@')).length === 3);
console.log(`   delivered to ${received.filter((r) => r.startsWith('chat@')).length} nodes; the sender got its own copy: ${received.includes('chat@api')}`);

// --- 2. sendTo: one member, best-effort in a UDP packet unless {reliable: true} -----------------
console.log('\n2. api sends directly to worker-1');
await api.sendTo('worker-1', PING, { seq: 1 });
await api.sendTo('worker-1', PING, { seq: 2 }, { reliable: true }); // over TCP
await waitFor('both pings', () => received.filter((r) => r === 'ping@worker-1').length === 2);
console.log('   (best-effort and reliable sends take different paths, so their relative order is not kept)');

// --- 3. request/reply --------------------------------------------------------------------------
console.log('\n3. requests');
w1.handleRequest(ADD, ({ a, b }, info) => {
  if (a < 0 || b < 0) {
    // A thrown error travels back to the requester with its code and message.
    throw Object.assign(new Error('only non-negative numbers, please'), { code: 'E_NEGATIVE' });
  }
  console.log(`[worker-1] adding ${a} + ${b} for ${info.from}`);
  return { sum: a + b }; // a Promise works too
});
w2.handleRequest(SLOW, () => new Promise((resolve) => {
  // Answers after 1 s; unref so this demo timer never holds the process open on its own.
  setTimeout(() => resolve('finally'), 1000).unref();
}));

const reply = await api.request('worker-1', ADD, { a: 2, b: 40 });
console.log(`   api <- worker-1: sum = ${reply.sum}`);

/** Run a request that should fail and print how it failed, by error code (never by message). */
async function expectFailure(label, promise) {
  try {
    await promise;
    console.log(`   ${label}: unexpectedly succeeded`);
  } catch (err) {
    const extra = err.code === 'ERR_REMOTE' ? ` remoteCode=${err.remoteCode} from ${err.node}` : '';
    console.log(`   ${label}: ${err.code}${extra} (${err.message})`);
  }
}
await expectFailure('remote error', api.request('worker-1', ADD, { a: -1, b: 1 }));
await expectFailure('timeout', api.request('worker-2', SLOW, null, { timeout: 250 }));
await expectFailure('no handler', api.request('cache', ADD, { a: 1, b: 1 }));
await expectFailure('aborted', api.request('worker-2', SLOW, null, { signal: AbortSignal.timeout(100) }));
await expectFailure('unknown node', api.request('nobody', ADD, { a: 1, b: 1 }));

// --- 4. sendToMany: one encoding, each target independent; failures are reported, not thrown --
console.log('\n4. api sends one note to several nodes');
const many = await api.sendToMany(['worker-1', 'cache', 'nobody'], NOTE, 'maintenance at 02:00', { reliable: true });
console.log(`   sent to [${many.sent.sort().join(', ')}], failed: [${many.failed.map((f) => `${f.node}: ${f.error.code}`).join(', ')}]`);
await waitFor('the notes', () => received.includes('note@worker-1') && received.includes('note@cache'));

// --- 5. a node group: the members whose metadata matches, kept current as members come and go --
console.log('\n5. api addresses the workers as a group');
const workers = api.group({ role: 'worker' });
console.log(`   group {role: worker} = [${workers.names().sort().join(', ')}]`);
const stopListening = [
  workers.on('added', (m) => console.log(`   group: ${m.name} joined the workers`)),
  workers.on('removed', (m) => console.log(`   group: ${m.name} left the workers`)),
];
const jobs = await workers.send(JOB, { id: 'job-7' }, { reliable: true });
console.log(`   group.send reached [${jobs.sent.sort().join(', ')}]`);
await waitFor('both workers to get the job', () => received.includes('job@worker-1') && received.includes('job@worker-2'));
// Metadata changes move members in and out of groups on every node.
cache.updateMeta({ role: 'worker' });
await waitFor('cache to join the group', () => workers.has('cache'));
console.log(`   group {role: worker} = [${workers.names().sort().join(', ')}]`);
// close() empties the view (raising 'removed' for each member), so stop listening first.
for (const off of stopListening) off();
workers.close();

for (const n of [cache, w2, w1, api]) await n.leave();
console.log('\ndone');
