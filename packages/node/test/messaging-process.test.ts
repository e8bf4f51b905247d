/**
 * Application messaging between two processes over real UDP+TCP sockets on loopback: request/reply,
 * a 50 MB stream each way with a SHA-256 checksum, and a reader that stops reading stalling the
 * writer in the other process (backpressure across the wire).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, type ClusterStream, type NodeCluster } from '@grapevine/node';

const PEER = fileURLToPath(new URL('./fixtures/messaging-peer.mjs', import.meta.url));
const MB = 1024 * 1024;

function pattern(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 13 + 5) & 255;
  return b;
}

describe('messaging between two processes', () => {
  let child: ChildProcess;
  let cluster: NodeCluster;

  beforeAll(async () => {
    child = spawn(process.execPath, [PEER], { stdio: ['ignore', 'pipe', 'inherit'] });
    const rl = createInterface({ input: child.stdout! });
    const [line] = (await once(rl, 'line')) as [string];
    const { addr } = JSON.parse(line) as { addr: string };
    cluster = await createCluster({ name: 'main', bind: '127.0.0.1:0', profile: 'fast', join: addr });
    expect(cluster.member('peer')?.state).toBe('alive');
  });

  afterAll(async () => {
    await cluster?.close();
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('request/reply', async () => {
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => cluster.request('peer', 200, { i })));
    replies.forEach((r, i) => expect(r).toEqual({ echo: { i }, from: 'main' }));
    await expect(cluster.request('peer', 299, null, { timeout: 2000 })).rejects.toMatchObject({ code: 'ERR_NO_HANDLER' });
  });

  it('a 50 MB stream to the other process arrives intact', async () => {
    const stream = await cluster.openStream('peer', 201, { name: 'upload' });
    const chunk = pattern(MB);
    const hash = createHash('sha256');
    for (let i = 0; i < 50; i++) {
      hash.update(chunk);
      if (!stream.write(chunk)) await once(stream, 'drain');
    }
    stream.end();
    let answer = '';
    stream.setEncoding('utf8');
    for await (const c of stream) answer += c as string;
    expect(JSON.parse(answer)).toEqual({ bytes: 50 * MB, sha256: hash.digest('hex') });
  }, 60_000);

  it('a 50 MB stream from the other process arrives intact', async () => {
    const stream: ClusterStream = await cluster.openStream('peer', 202, { bytes: 50 * MB });
    stream.end(); // nothing to send; the peer's side stays open
    const ref = Buffer.alloc(64 * 1024);
    for (let i = 0; i < ref.length; i++) ref[i] = (i * 7) & 255;
    const want = createHash('sha256');
    for (let left = 50 * MB; left > 0; left -= ref.length) want.update(ref.subarray(0, Math.min(ref.length, left)));
    const got = createHash('sha256');
    let bytes = 0;
    for await (const c of stream) {
      got.update(c as Buffer);
      bytes += (c as Buffer).length;
    }
    expect(bytes).toBe(50 * MB);
    expect(got.digest('hex')).toBe(want.digest('hex'));
  }, 60_000);

  it('a reader that stops reading stalls the writer in the other process', async () => {
    const stream = await cluster.openStream('peer', 202, { bytes: 200 * MB });
    stream.end();
    stream.pause();
    // Let the peer run until it is blocked on credit; what sits here is bounded by the window
    // plus the readable buffer, far below the 200 MB the peer wants to send. First wait for the
    // peer's bytes to arrive at all (a loaded machine may take longer than any fixed sleep to
    // schedule the other process), then until the buffer has stopped growing for 1 s.
    const deadline = Date.now() + 15_000;
    while (stream.readableLength === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    let buffered = stream.readableLength;
    for (let still = 0; still < 1000 && Date.now() < deadline; still += 100) {
      await new Promise((r) => setTimeout(r, 100));
      if (stream.readableLength !== buffered) {
        buffered = stream.readableLength;
        still = -100;
      }
    }
    expect(buffered).toBeGreaterThan(0);
    expect(buffered).toBeLessThanOrEqual(cluster.config.streamWindowBytes + stream.readableHighWaterMark + cluster.config.streamChunkBytes);
    stream.destroy();
  }, 20_000);
});
