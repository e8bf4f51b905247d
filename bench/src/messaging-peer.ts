/**
 * The other process of the messaging benchmarks: one node that answers requests (type 200 echoes
 * its payload), swallows streams (type 201, replying with the byte count when the opener ends),
 * and counts broadcasts (type 202, reporting counts on request type 203). Options arrive as JSON in
 * argv[2]; the node prints {"addr": ...} on stdout when ready and exits on SIGTERM.
 */
import { createCluster, decodeKey, type CipherName } from '@grapevine/node';

interface PeerOptions {
  name: string;
  join?: string;
  key?: string;
  cipher?: CipherName;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as PeerOptions;
const cluster = await createCluster({
  name: opts.name,
  bind: '127.0.0.1:0',
  ...(opts.join ? { join: opts.join } : {}),
  ...(opts.key ? { keys: [decodeKey(opts.key)], ...(opts.cipher ? { cipher: opts.cipher } : {}) } : {}),
});
cluster.handleRequest(200, (p) => p);
cluster.handleStream(201, (stream) => {
  let bytes = 0;
  stream.on('data', (c: Buffer) => (bytes += c.length));
  stream.on('end', () => stream.end(String(bytes)));
  stream.on('error', () => undefined);
});
const seen = new Map<number, number>();
cluster.handle<Uint8Array>(202, (p) => {
  if (!(p instanceof Uint8Array) || p.length < 8) return;
  const step = new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0);
  seen.set(step, (seen.get(step) ?? 0) + 1);
});
cluster.handleRequest<number>(203, (step) => seen.get(step) ?? 0);
process.stdout.write(JSON.stringify({ addr: cluster.localNode.address }) + '\n');
process.on('SIGTERM', () => {
  void cluster.close().then(() => process.exit(0));
});
