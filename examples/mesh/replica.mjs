// One replica of a small HTTP service: items live in a "database" (one JSON file per item in a
// directory all replicas share), reads go through an in-memory LRU + TTL cache, and a write on any
// replica reaches every other replica's cache through the Grapevine invalidation bus.
//
//   node replica.mjs --name r1 --db DIR [--join HOST:PORT]
//
// Prints one JSON line on stdout when ready: {"ready":true,"name":...,"http":...,"gossip":...}.
//   GET /items/:id   → {"id","value","source":"cache"|"db"}
//   PUT /items/:id   body: the new value (text) → writes the database, refreshes this cache,
//                    and returns once both other replicas acknowledged the invalidation
import { createServer } from 'node:http';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LRUCache } from 'lru-cache';
import { createCluster } from '@grapevine/node';
import { createMesh } from '@grapevine/mesh';

const { values: args } = parseArgs({ options: { name: { type: 'string' }, db: { type: 'string' }, join: { type: 'string' } } });
const cache = new LRUCache({ max: 1000, ttl: 30_000 });

const cluster = await createCluster({
  name: args.name,
  bind: '127.0.0.1:0',
  ...(args.join ? { join: args.join } : {}),
  profile: 'fast',
});
const bus = createMesh(cluster, { batchInterval: 5 });

// Another replica changed an item: take its new value (or drop ours if it sent none).
bus.subscribe({ prefix: 'item:' }, (e) => {
  if (e.type === 'invalidate') {
    if (e.hasValue) cache.set(e.key, e.value);
    else cache.delete(e.key);
  } else {
    cache.clear(); // a gap or an overflow: we may have missed something, start over
  }
});

const dbPath = (id) => join(args.db, `${encodeURIComponent(id)}.json`);
async function dbRead(id) {
  try {
    return JSON.parse(await readFile(dbPath(id), 'utf8'));
  } catch {
    return null;
  }
}
async function dbWrite(id, value) {
  const tmp = `${dbPath(id)}.${args.name}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, dbPath(id));
}

const others = () => cluster.aliveMembers().length - 1;

const server = createServer(async (req, res) => {
  const m = /^\/items\/([\w-]{1,64})$/.exec(req.url ?? '');
  const reply = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (!m) return reply(404, { error: 'not found' });
  const id = m[1];
  const key = `item:${id}`;
  try {
    if (req.method === 'GET') {
      if (cache.has(key)) return reply(200, { id, value: cache.get(key), source: 'cache', replica: args.name });
      const value = await dbRead(id);
      cache.set(key, value);
      return reply(200, { id, value, source: 'db', replica: args.name });
    }
    if (req.method === 'PUT') {
      let body = '';
      for await (const chunk of req) {
        body += chunk;
        if (body.length > 1000) return reply(413, { error: 'value too long' });
      }
      await dbWrite(id, body);
      cache.set(key, body);
      // Wait until every other live replica has the new value in its cache.
      const { acked } = await bus.publishAndAwait(key, { value: body, replicas: others(), timeout: 5000 });
      return reply(200, { id, value: body, acked });
    }
    return reply(405, { error: 'method not allowed' });
  } catch (err) {
    return reply(500, { error: err.message, code: err.code });
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

process.stdout.write(`${JSON.stringify({ ready: true, name: args.name, http: `127.0.0.1:${server.address().port}`, gossip: cluster.localNode.address })}\n`);

const stop = async () => {
  server.close();
  await bus.close();
  await cluster.leave();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
