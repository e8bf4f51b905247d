// Three replicas of a small HTTP service, each with an LRU + TTL cache in front of a shared
// "database", kept coherent by the Grapevine invalidation bus. It starts them (three processes on
// 127.0.0.1), warms every cache, writes on one replica and shows the fresh read on the others,
// then runs a write loop across all three and checks every replica reads every write at once.
//
//   node examples/mesh/index.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const db = mkdtempSync(join(tmpdir(), 'grapevine-mesh-example-'));
const children = [];

function startReplica(name, seed) {
  const child = spawn(process.execPath, [`${here}replica.mjs`, '--name', name, '--db', db, ...(seed ? ['--join', seed] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`replica ${name} exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
  });
}

async function call(replica, method, id, body) {
  const res = await fetch(`http://${replica.http}/items/${id}`, { method, ...(body !== undefined ? { body } : {}) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${replica.name}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function until(check, what, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

try {
  const r1 = await startReplica('r1');
  const r2 = await startReplica('r2', r1.gossip);
  const r3 = await startReplica('r3', r1.gossip);
  const replicas = [r1, r2, r3];
  console.log(`replicas: ${replicas.map((r) => `${r.name} http://${r.http}`).join(', ')}`);

  // Wait until each replica sees the two others (a PUT waits for their acknowledgements).
  await until(async () => {
    try {
      await call(r1, 'PUT', 'warmup', 'x');
      return true;
    } catch {
      return false;
    }
  }, 'the replicas to find each other');

  await call(r1, 'PUT', 'price', '"10 EUR"');
  for (const r of replicas) {
    await call(r, 'GET', 'price');
    const again = await call(r, 'GET', 'price');
    console.log(`read  on ${r.name}: price = ${again.value} (${again.source})`);
  }

  const put = await call(r2, 'PUT', 'price', '"12 EUR"');
  console.log(`write on r2: price = ${put.value} (acknowledged by ${[...put.acked].sort().join(', ')})`);
  for (const r of replicas) {
    const got = await call(r, 'GET', 'price');
    console.log(`read  on ${r.name}: price = ${got.value} (${got.source})`);
    if (got.value !== '"12 EUR"') throw new Error(`${r.name} read a stale value: ${got.value}`);
  }

  // A write loop across all replicas: after each write, every replica reads it from its cache.
  const WRITES = 60;
  let fromCache = 0;
  for (let i = 0; i < WRITES; i++) {
    const writer = replicas[i % 3];
    const value = `"v${i}"`;
    await call(writer, 'PUT', `k${i % 5}`, value);
    for (const r of replicas) {
      const got = await call(r, 'GET', `k${i % 5}`);
      if (got.value !== value) throw new Error(`after write ${i} on ${writer.name}, ${r.name} read ${got.value}`);
      if (got.source === 'cache') fromCache++;
    }
  }
  console.log(`write loop: ${WRITES} writes across 3 replicas, every read fresh (${fromCache} of ${WRITES * 3} from cache)`);
  console.log('done');
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  rmSync(db, { recursive: true, force: true });
}
