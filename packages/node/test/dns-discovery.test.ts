/**
 * createCluster with DNS seeds, against the discovery package's test DNS server on 127.0.0.1:
 * dns:// and dns+srv:// seeds are resolved to IP addresses and joined; when the records change to
 * a new node, the refresher hands the new address to setSeeds and the node joins it; a name that
 * does not resolve yet is a logged miss, retried until it does; host-name seeds become IP
 * addresses; a bad address fails before anything binds; close() stops the lookups. Nodes bind
 * 127.0.0.2 and 127.0.0.3 (loopback too on Linux) so one A record can name each on one port.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, type Cluster, type CreateClusterOptions } from '@grapevine/node';
import { TestDnsServer } from '../../discovery/test/helpers/dns-server.js';
import { RecordingLogger } from '../../discovery/test/helpers/logger.js';
import { eventually } from '../../discovery/test/helpers/multicast.js';

const FAST = { profile: 'fast', probeInterval: 250, probeTimeout: 100, suspicionMult: 2, gossipInterval: 50 } as const;
const WAIT = 15_000;

function tcpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

function udpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, host, () => s.close(() => resolve(true)));
  });
}

/** A port free for TCP and UDP on every one of `hosts` a moment ago. */
async function freePortOn(hosts: string[]): Promise<number> {
  for (;;) {
    const probe = createServer();
    const port = await new Promise<number>((resolve) => probe.listen(0, hosts[0], () => resolve((probe.address() as { port: number }).port)));
    await new Promise((r) => probe.close(r));
    let ok = true;
    for (const h of hosts) ok = ok && (await tcpFree(h, port)) && (await udpFree(h, port));
    if (ok) return port;
  }
}

describe('DNS discovery into a cluster (test DNS server on 127.0.0.1)', () => {
  let dns: TestDnsServer;
  let port = 0;
  const nodes = new Map<string, Cluster>();
  const start = async (name: string, options: CreateClusterOptions): Promise<Cluster> => {
    const c = await createCluster({ name, ...FAST, ...options });
    nodes.set(name, c);
    return c;
  };
  const dnsOption = (): CreateClusterOptions['dns'] => ({ servers: [dns.address], timeout: 1000 });
  const queriesFor = (name: string): number => dns.queries.filter((q) => q.name === name).length;

  beforeAll(async () => {
    dns = await TestDnsServer.start();
    port = await freePortOn(['127.0.0.2', '127.0.0.3']);
  });
  afterAll(async () => {
    await Promise.all([...nodes.values()].map((c) => c.close()));
    await dns.stop();
  });

  it('a bad seed address is ERR_INVALID_ADDRESS, before anything binds', async () => {
    const free = await freePortOn(['127.0.0.1']);
    for (const bad of ['dns+srv://_g._tcp.example.test:53', 'dns://seed.gv.test/path', 'seed.gv.test:99999', 'ws://127.0.0.1:1/p', '10.0.0.256:7946', 'ftp://x']) {
      await expect(createCluster({ name: 'bad', bind: `127.0.0.1:${free}`, join: bad }), bad).rejects.toMatchObject({ name: 'GrapevineError', code: 'ERR_INVALID_ADDRESS' });
    }
    await expect(createCluster({ name: 'bad', bind: `127.0.0.1:${free}`, join: 'dns://a.test:1', dns: { servers: ['not an ip'] } })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(createCluster({ name: 'bad', bind: `127.0.0.1:${free}`, join: 'dns://a.test:1', seedRefreshInterval: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect(await tcpFree('127.0.0.1', free)).toBe(true);
    expect(await udpFree('127.0.0.1', free)).toBe(true);
  });

  it('joins through dns://name:port, resolved to the record\'s IP address', async () => {
    dns.set('seed.gv.test', { A: ['127.0.0.2'] });
    const x = await start('x', { bind: `127.0.0.2:${port}` });
    const a = await start('a', { bind: '127.0.0.1:0', join: `dns://seed.gv.test:${port}`, dns: dnsOption(), seedRefreshInterval: 500 });
    // createCluster resolves after the initial join: x is already a member.
    expect(a.member('x')?.state).toBe('alive');
    expect(a.node.currentSeeds).toEqual([`127.0.0.2:${port}`]);
    expect(await eventually(() => x.member('a')?.state === 'alive', WAIT)).toBe(true);
  });

  it('when the record changes to a new node and the old one crashes, the refresher and healing follow', async () => {
    const a = nodes.get('a')!;
    const x = nodes.get('x')!;
    // y starts on its own: nobody knows it but DNS.
    const y = await start('y', { bind: `127.0.0.3:${port}` });
    dns.set('seed.gv.test', { A: ['127.0.0.3'] });
    await x.close(); // a crash: no leave
    expect(await eventually(() => a.member('x')?.state === 'dead', WAIT)).toBe(true);
    expect(await eventually(() => a.node.currentSeeds.join() === `127.0.0.3:${port}`, WAIT)).toBe(true);
    expect(await eventually(() => a.member('y')?.state === 'alive' && y.member('a')?.state === 'alive', WAIT)).toBe(true);
  });

  it('a name that does not resolve is a logged miss, retried (while alone, sooner than the interval) until it does', async () => {
    const logger = new RecordingLogger();
    const b = await start('b', {
      bind: '127.0.0.1:0',
      join: 'dns+srv://_gossip._tcp.later.gv.test',
      dns: dnsOption(),
      seedRefreshInterval: 60_000,
      logger,
    });
    expect(b.members().map((m) => m.name)).toEqual(['b']);
    expect(logger.at('warn').some((e) => /lookup failed \(ENOTFOUND\)/.test(e.msg ?? ''))).toBe(true);
    expect(logger.at('warn').some((e) => /no seed address resolved yet/.test(e.msg ?? ''))).toBe(true);
    dns.set('_gossip._tcp.later.gv.test', { SRV: [{ target: 'y.gv.test', port }] });
    dns.set('y.gv.test', { A: ['127.0.0.3'] });
    expect(await eventually(() => b.member('y')?.state === 'alive', WAIT)).toBe(true);
    expect(b.node.currentSeeds).toEqual([`127.0.0.3:${port}`]);
  });

  it('a host-name seed is joined by IP address (no lookup in the send path)', async () => {
    dns.set('c-seed.gv.test', { A: ['127.0.0.3'] });
    const c = await start('c', { bind: '127.0.0.1:0', join: `c-seed.gv.test:${port}`, dns: dnsOption(), seedRefreshInterval: 500 });
    expect(c.member('y')?.state).toBe('alive');
    expect(c.node.currentSeeds).toEqual([`127.0.0.3:${port}`]);
    expect(c.member('y')?.address).toBe(`127.0.0.3:${port}`);
  });

  it('close() and leave() stop the refresher: no more lookups', async () => {
    const a = nodes.get('a')!;
    const c = nodes.get('c')!;
    const before = { a: queriesFor('seed.gv.test'), c: queriesFor('c-seed.gv.test') };
    // Both still refresh every 500 ms.
    expect(await eventually(() => queriesFor('seed.gv.test') > before.a && queriesFor('c-seed.gv.test') > before.c, 3000)).toBe(true);
    await Promise.all([a.close(), c.leave()]);
    const after = { a: queriesFor('seed.gv.test'), c: queriesFor('c-seed.gv.test') };
    await new Promise((r) => setTimeout(r, 1200));
    expect({ a: queriesFor('seed.gv.test'), c: queriesFor('c-seed.gv.test') }).toEqual(after);
  });
});
