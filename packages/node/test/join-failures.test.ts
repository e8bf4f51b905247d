/**
 * A join that fails says why, over real sockets on 127.0.0.1: a WebSocket seed's HTTP 404 names the
 * path tried and the default, a 401 names the token, a seed that never answers (wrong key, wrong
 * label) says that a wrong key or label looks exactly like this, a name held by the live seed
 * itself is refused at once; `ws://host:port/` means the default path; and with no logger given,
 * createCluster warns on stderr (pino-shaped JSON) when its seed cannot be reached.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JoinError, createCluster, generateKey, keyId, type Cluster, type CreateClusterOptions } from '@grapevine/node';

const FAST = { profile: 'fast', probeInterval: 250, probeTimeout: 100, suspicionMult: 2, gossipInterval: 50, joinRetries: 0, joinTimeout: 800 } as const;

/** A TCP port nothing listens on a moment ago (for "connection refused"). */
async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
  await new Promise((r) => s.close(r));
  return port;
}

describe('join failures say what happened', () => {
  const clusters: Cluster[] = [];
  const start = async (options: CreateClusterOptions): Promise<Cluster> => {
    const c = await createCluster({ bind: '127.0.0.1:0', ...FAST, ...options });
    clusters.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.close()));
  });
  const joinError = async (c: Cluster, seed: string): Promise<JoinError> => {
    const err = await c.join(seed).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JoinError);
    return err as JoinError;
  };

  it('HTTP 404 from a WebSocket seed: ERR_WRONG_PATH naming the path tried and the default', async () => {
    const seed = await start({ name: 'seed', transport: 'ws' });
    const port = new URL(seed.localNode.address).port;
    const b = await start({ name: 'b', transport: 'ws' });
    const err = await joinError(b, `ws://127.0.0.1:${port}/wrong`);
    expect(err.code).toBe('ERR_WRONG_PATH');
    expect(err.failures[0]!.error.code).toBe('ERR_WRONG_PATH');
    expect(err.message).toMatch(/HTTP 404/);
    expect(err.message).toMatch(/path \/wrong/);
    expect(err.message).toMatch(/default path is \/grapevine/);
    // The seed serves another path than this node's: the hint says to give it in the URL.
    const custom = await start({ name: 'custom', transport: 'ws', ws: { path: '/gossip' } });
    const c = await start({ name: 'c', transport: 'ws' });
    const other = await joinError(c, `127.0.0.1:${new URL(custom.localNode.address).port}`);
    expect(other.code).toBe('ERR_WRONG_PATH');
    expect(other.message).toMatch(/at path \/grapevine there .*another path/);
  });

  it('ws://host:port/ with a bare trailing slash means the default path', async () => {
    const seed = await start({ name: 'seed', transport: 'ws' });
    const b = await start({ name: 'b', transport: 'ws' });
    expect(await b.join(`ws://127.0.0.1:${new URL(seed.localNode.address).port}/`)).toBe(1);
  });

  it('HTTP 401: ERR_UNAUTHORIZED, saying whether this node sent no token or a refused one', async () => {
    const seed = await start({ name: 'seed', transport: 'ws', ws: { token: 'right' } });
    const none = await start({ name: 'none', transport: 'ws' });
    const noToken = await joinError(none, seed.localNode.address);
    expect(noToken.code).toBe('ERR_UNAUTHORIZED');
    expect(noToken.message).toMatch(/HTTP 401: the seed requires a bearer token and this node has none/);
    const wrong = await start({ name: 'wrong', transport: 'ws', ws: { token: 'wrong' } });
    const refused = await joinError(wrong, seed.localNode.address);
    expect(refused.code).toBe('ERR_UNAUTHORIZED');
    expect(refused.message).toMatch(/refused our bearer token/);
  });

  it('no answer from an encrypted or labelled seed: says a wrong key or label looks exactly like this', async () => {
    const key = generateKey();
    let other = generateKey();
    while (keyId(other) === keyId(key)) other = generateKey();
    const seed = await start({ name: 'seed', keys: [key], label: 'prod' });
    const wrongKey = await start({ name: 'wk', keys: [other], label: 'prod' });
    const e1 = await joinError(wrongKey, seed.localNode.address);
    expect(e1.code).toBe('ERR_JOIN_FAILED');
    expect(e1.failures[0]!.error.code).toBe('ERR_TIMEOUT');
    expect(e1.message).toMatch(/no answer from 127\.0\.0\.1:\d+ within 800 ms/);
    expect(e1.message).toMatch(/this node encrypts its messages and uses cluster label "prod"/);
    expect(e1.message).toMatch(/a wrong key or label looks exactly like this/);
    const wrongLabel = await start({ name: 'wl', label: 'staging' });
    const e2 = await joinError(wrongLabel, seed.localNode.address);
    expect(e2.failures[0]!.error.code).toBe('ERR_TIMEOUT');
    expect(e2.message).toMatch(/uses cluster label "staging".*a wrong key or label looks exactly like this/);
  });

  it('nothing listening: ERR_UNREACHABLE with the transport\'s reason', async () => {
    const b = await start({ name: 'b' });
    const err = await joinError(b, `127.0.0.1:${await closedPort()}`);
    expect(err.failures[0]!.error.code).toBe('ERR_UNREACHABLE');
    expect(err.message).toMatch(/cannot reach 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('a name held by the live seed itself: ERR_NAME_TAKEN at once, and the seed keeps its name', async () => {
    const seed = await start({ name: 'same', joinRetries: 5 });
    const twin = await start({ name: 'same', joinRetries: 5 });
    const err = await joinError(twin, seed.localNode.address);
    expect(err.code).toBe('ERR_NAME_TAKEN');
    expect(err.message).toContain(`the name "same" is taken by a live node at ${seed.localNode.address}`);
    expect(seed.members().map((m) => [m.name, m.address])).toEqual([['same', seed.localNode.address]]);
    expect(twin.members({ state: 'alive' })).toHaveLength(1);
  });

  it('with no logger, createCluster warns on stderr (pino-shaped JSON) when its seed cannot be reached', async () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const saved = process.env.GRAPEVINE_LOG_LEVEL;
    delete process.env.GRAPEVINE_LOG_LEVEL; // the default level, warn
    process.stderr.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      await start({ name: 'lonely', join: `127.0.0.1:${await closedPort()}` });
    } finally {
      process.stderr.write = write;
      if (saved === undefined) delete process.env.GRAPEVINE_LOG_LEVEL;
      else process.env.GRAPEVINE_LOG_LEVEL = saved;
    }
    const records = lines.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: number; msg: string; node: string; err?: { code: string; message: string } });
    const warn = records.find((r) => r.msg === 'initial join failed; will keep trying the seeds');
    expect(warn, JSON.stringify(records)).toBeDefined();
    expect(warn!.level).toBe(40);
    expect(warn!.node).toBe('lonely');
    expect(warn!.err!.code).toBe('ERR_JOIN_FAILED');
    expect(warn!.err!.message).toMatch(/ECONNREFUSED/);
  });
});
