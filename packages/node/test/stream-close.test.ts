/**
 * How a ClusterStream ends, on two real nodes over 127.0.0.1: a stream whose work is done (the
 * opener's pipeline() ended its side, the receiver piped everything out) closes on both nodes, so
 * it holds no stream slot and no later departure of the peer can fail it; allowHalfOpen keeps the
 * receiver's side open for an answer; a failure that loses data is still an 'error'.
 */
import { once } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { createCluster, type ClusterStream } from '@grapevine/node';

const FAST = { bind: '127.0.0.1:0', profile: 'fast' } as const;
type Node = Awaited<ReturnType<typeof createCluster>>;
const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes.length = 0;
});

async function pair(): Promise<[Node, Node]> {
  const a = await createCluster({ ...FAST, name: 'a' });
  const b = await createCluster({ ...FAST, name: 'b', join: a.localNode.address });
  nodes.push(a, b);
  return [a, b];
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sink = (): Writable & { bytes: number } => {
  const w = new Writable({ write: (c: Buffer, _e, done) => ((w.bytes += c.length), done()) }) as Writable & { bytes: number };
  w.bytes = 0;
  return w;
};

describe('ClusterStream end of life', () => {
  it('pipeline() into a stream piped out on the other node closes the stream on both nodes', async () => {
    const [a, b] = await pair();
    let accepted: ClusterStream | undefined;
    const out = sink();
    b.handleStream(300, (stream) => {
      accepted = stream;
      stream.pipe(out);
    });
    const s = await a.openStream('b', 300, null);
    await pipeline(Readable.from([Buffer.alloc(1 << 20, 1), Buffer.alloc(1 << 20, 2)]), s);
    await until(() => accepted?.destroyed === true, 'the receiving stream to close');
    expect(out.bytes).toBe(2 << 20);
    await until(() => a.node.messenger.streams.size === 0 && b.node.messenger.streams.size === 0, 'both nodes to forget the stream');
  });

  it('with allowHalfOpen the receiver answers after reading to the end, and both close', async () => {
    const [a, b] = await pair();
    b.handleStream(
      301,
      (stream) => {
        // Read to the end without an async iterator (one that finishes destroys its stream).
        let got = '';
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (got += c));
        stream.on('end', () => setTimeout(() => stream.end(`got ${got.length}`), 50)); // answers later
      },
      { allowHalfOpen: true },
    );
    const s = await a.openStream('b', 301, null);
    s.end('hello');
    expect(await text(s)).toBe('got 5');
    await until(() => a.node.messenger.streams.size === 0 && b.node.messenger.streams.size === 0, 'both nodes to forget the stream');
  });

  it('a peer that leaves mid-transfer is still an error for a reader that listens', async () => {
    const [a, b] = await pair();
    const gate = new PassThrough();
    b.handleStream(302, (stream) => {
      stream.on('error', () => undefined); // b's own side fails when b leaves
      stream.write(Buffer.alloc(64 * 1024));
      gate.pipe(stream);
    });
    const s = await a.openStream('b', 302, null);
    const failed = once(s, 'error');
    s.resume();
    await until(() => a.node.messenger.streams.size === 1, 'the stream');
    await b.leave();
    const [err] = (await failed) as [{ code?: string }];
    expect(err.code).toBe('ERR_UNREACHABLE');
  });

  it('a finished stream nobody listens to closes quietly when the peer leaves before it ended', async () => {
    const [a, b] = await pair();
    let accepted: ClusterStream | undefined;
    b.handleStream(303, (stream) => {
      accepted = stream; // never read, never ended: the handler forgot it
    }, { allowHalfOpen: true });
    const s = await a.openStream('b', 303, null);
    await pipeline(Readable.from([Buffer.from('done')]), s); // the opener's work is finished
    await until(() => accepted !== undefined, 'the stream to be accepted');
    expect(s.listenerCount('error')).toBe(0);
    const closed = new Promise((r) => s.on('close', r)); // not events.once: it would listen for 'error'
    await b.leave(); // before the fix: an unhandled 'error' (ERR_UNREACHABLE) on `s`
    await closed;
    expect(s.errored).toBe(null);
    expect(s.channel.error?.code).toBe('ERR_UNREACHABLE');
  });
});
