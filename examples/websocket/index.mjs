// Grapevine over WebSocket, on an HTTP server the application already runs.
//
// Three "application servers" in this one process, each a plain node:http server on a free port
// that serves a page at / (the members its node sees). Each mounts the gossip WebSocket at
// /gossip of that same server: one port per node for the application and the cluster. Nodes 2
// and 3 join node 1 by its ws:// URL; once all three agree, the example fetches a page, leaves
// the cluster, closes the servers and exits 0 (1 if they did not converge in time).
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createCluster } from '@grapevine/node';

const NODES = 3;
const CONVERGE_WITHIN_MS = 15_000;

/** An existing application server: nothing in it knows about gossip. */
async function startAppServer(render) {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(render());
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

function page(name, cluster) {
  const rows = (cluster?.members() ?? [])
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => `<li>${m.name} — ${m.state} — ${m.address}</li>`)
    .join('');
  return `<!doctype html><title>${name}</title><h1>${name}</h1><ul>${rows}</ul>\n`;
}

const nodes = [];
try {
  for (let i = 1; i <= NODES; i++) {
    const name = `node-${i}`;
    const node = { name, server: undefined, cluster: undefined };
    node.server = await startAppServer(() => page(name, node.cluster));
    node.cluster = await createCluster({
      name,
      transport: 'ws',
      ws: { server: node.server, path: '/gossip' }, // mounted: the server keeps serving everything else
      join: i === 1 ? [] : [nodes[0].cluster.localNode.address],
      profile: 'fast',
    });
    nodes.push(node);
    const port = node.server.address().port;
    console.log(`${name}: http://127.0.0.1:${port}/ serves the page, gossip at ${node.cluster.localNode.address}`);
  }

  const converged = () => nodes.every((n) => n.cluster.members({ state: 'alive' }).length === NODES);
  const deadline = Date.now() + CONVERGE_WITHIN_MS;
  while (!converged()) {
    if (Date.now() > deadline) throw new Error(`did not converge within ${CONVERGE_WITHIN_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const n of nodes) {
    const seen = n.cluster.members({ state: 'alive' }).map((m) => m.name).sort();
    console.log(`${n.name} sees alive: ${seen.join(', ')}`);
  }
  console.log(`converged: all ${NODES} nodes see each other alive over WebSocket`);

  // The application's own route still answers on the port the gossip shares.
  const res = await fetch(`http://127.0.0.1:${nodes[1].server.address().port}/`);
  const html = await res.text();
  console.log(`GET / on node-2: ${res.status}, lists ${(html.match(/<li>/g) ?? []).length} members`);
} catch (err) {
  console.error(`example failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  // Leave gracefully, then close the application servers (the transport never closes them).
  await Promise.all(nodes.map((n) => n.cluster?.leave()));
  await Promise.all(
    nodes.map(
      (n) =>
        new Promise((resolve) => {
          n.server.close(resolve);
          n.server.closeAllConnections();
        }),
    ),
  );
  console.log('left the cluster and closed the servers');
}
