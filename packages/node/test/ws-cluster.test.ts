/**
 * createCluster({transport: 'ws'}) in this process, on loopback: a listener of its own with a
 * bearer token, wss:// on an https listener of its own (self-signed certificate from openssl), a
 * mount on an application's http server, and the option checks (all before anything binds).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WsTransport, createCluster, type Cluster, type CreateClusterOptions } from '@grapevine/node';
import { eventually } from '../../discovery/test/helpers/multicast.js';

const FAST = { profile: 'fast', probeInterval: 250, probeTimeout: 100, suspicionMult: 2, gossipInterval: 50 } as const;
const WAIT = 10_000;

const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed';
if (opensslMissing !== undefined) console.warn(`[grapevine] wss createCluster test skipped: ${opensslMissing}`);

function httpsStatus(port: number, path: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpsGet({ host: '127.0.0.1', port, path, ca, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('createCluster with the WebSocket transport', () => {
  const clusters: Cluster[] = [];
  const servers: Server[] = [];
  const start = async (options: CreateClusterOptions): Promise<Cluster> => {
    const c = await createCluster({ bind: '127.0.0.1:0', transport: 'ws', ...FAST, ...options });
    clusters.push(c);
    return c;
  };
  const allSeeAll = (list: Cluster[]): boolean => list.every((c) => c.members({ state: 'alive' }).length === list.length);
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('three nodes on listeners of their own, sharing a token, converge; a wrong token is refused and counted', async () => {
    const ws = { token: 'tok-1', path: '/cluster' };
    const a = await start({ name: 'a', ws });
    expect(a.localNode.address).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/cluster$/);
    expect(a.transport).toBeInstanceOf(WsTransport);
    const b = await start({ name: 'b', ws, join: a.localNode.address });
    const c = await start({ name: 'c', ws, join: a.localNode.address.replace(/^ws:\/\//, '').replace('/cluster', '') });
    expect(await eventually(() => allSeeAll([a, b, c]), WAIT)).toBe(true);

    // advertise host:port means ws://host:port/<path>; a URL is taken as it is (a proxy in front).
    const adv = await start({ name: 'adv', ws, advertise: 'gossip-1.example.test:8443' }); // joins no one: the name must never be looked up
    expect(adv.localNode.address).toBe('ws://gossip-1.example.test:8443/cluster');
    const proxied = await start({ name: 'proxied', ws, advertise: 'wss://lb.example.test/n2/cluster' });
    expect(proxied.localNode.address).toBe('wss://lb.example.test/n2/cluster');
    await Promise.all([adv.close(), proxied.close()]);

    const intruder = await start({ name: 'intruder', ws: { ...ws, token: 'wrong' }, join: a.localNode.address, joinRetries: 0 });
    expect(intruder.members().length).toBe(1);
    expect((a.transport as WsTransport).stats.authFailures).toBeGreaterThan(0);
    expect(a.member('intruder')).toBeUndefined();
  });

  it('mounted at /gossip of an application http server, which keeps answering its own routes', async () => {
    const app = async (): Promise<Server> => {
      const s = createServer((_req, res) => res.end('app'));
      servers.push(s);
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
      return s;
    };
    const s1 = await app();
    const s2 = await app();
    const a = await start({ name: 'a', bind: undefined, ws: { server: s1, path: '/gossip' } });
    const b = await start({ name: 'b', bind: undefined, ws: { server: s2, path: '/gossip' }, join: a.localNode.address });
    expect(a.localNode.address).toBe(`ws://127.0.0.1:${(s1.address() as { port: number }).port}/gossip`);
    expect(await eventually(() => allSeeAll([a, b]), WAIT)).toBe(true);
    expect(await (await fetch(`http://127.0.0.1:${(s2.address() as { port: number }).port}/`)).text()).toBe('app');
    await b.leave();
    expect(s2.listening).toBe(true); // the transport never closes a server it did not make
  });

  describe.skipIf(opensslMissing !== undefined)('wss://', () => {
    let dir = '';
    afterAll(() => {
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    it('serves wss:// on an https listener of its own and dials wss:// peers trusting the given CA', async () => {
      dir = mkdtempSync(join(tmpdir(), 'grapevine-wss-cluster-'));
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ], { stdio: 'ignore' });
      const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      const key = readFileSync(join(dir, 'key.pem'), 'utf8');
      const ws = { https: { cert, key }, tls: { ca: cert }, token: 'tls-token' };
      const a = await start({ name: 'a', ws });
      expect(a.localNode.address).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/grapevine$/);
      const b = await start({ name: 'b', ws, join: a.localNode.address });
      expect(await eventually(() => allSeeAll([a, b]), WAIT)).toBe(true);
      // A plain request to the listener gets the WebSocket answer, over TLS.
      const port = Number(/:(\d+)\//.exec(a.localNode.address)![1]);
      expect(await httpsStatus(port, '/grapevine', cert)).toBe(426);
      expect(await httpsStatus(port, '/other', cert)).toBe(404);
      await a.close();
      await b.close();
      // Closing the node closed the https listener it made.
      await expect(httpsStatus(port, '/grapevine', cert)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });
  });

  it('refuses bad options before anything binds', async () => {
    const bad = async (options: CreateClusterOptions, code: string, message: RegExp): Promise<void> => {
      await expect(createCluster({ name: 'x', bind: '127.0.0.1:0', ...options })).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    };
    await bad({ transport: 'tcp', ws: { path: '/g' } }, 'ERR_INVALID_OPTION', /option ws applies to transport 'ws'/);
    await bad({ transport: 'ws', ws: { server: createServer() } }, 'ERR_INVALID_OPTION', /bind does not apply with ws\.server/);
    await bad({ transport: 'ws', ws: { listen: '127.0.0.1:0' } as never }, 'ERR_INVALID_OPTION', /ws\.listen is set by createCluster/);
    await bad({ transport: 'ws', ws: { path: 'nope' } }, 'ERR_INVALID_OPTION', /path must start/);
    await bad({ transport: 'ws', ws: { token: 'has space' } }, 'ERR_INVALID_OPTION', /token/);
    await bad({ transport: 'ws', advertise: 'ftp://x:1' }, 'ERR_INVALID_ADDRESS', /ftp/);
    await bad({ transport: 'quic' as never }, 'ERR_INVALID_OPTION', /udp\+tcp", "tcp", "ws"/);
    await bad({ transport: 'ws', join: 'ws://h:1/p#frag' }, 'ERR_INVALID_ADDRESS', /fragment/);
    await bad({ multicast: { port: 0 } }, 'ERR_INVALID_OPTION', /port/);
    await bad({ multicast: { groop: '239.0.0.1' } as never }, 'ERR_INVALID_OPTION', /unknown key "groop"/);
  });
});
