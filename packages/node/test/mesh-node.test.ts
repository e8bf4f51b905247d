/**
 * createMeshNode with Warp Mesh's options over loopback: static peers (port 0, advertise, batch
 * interval/size, heartbeat), and the zero-configuration case — no peers, multicast discovery on
 * the loopback interface (skipped, saying why, where loopback multicast does not work).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMeshNode, type MeshNode } from '@grapevine/node';
import { freeUdpPort, probeMulticast, type ProbeResult } from '../../discovery/test/helpers/multicast.js';

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const nodes: MeshNode[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
});

let loopback: ProbeResult = { ok: false, detail: 'not probed' };
beforeAll(async () => {
  loopback = await probeMulticast('239.0.0.1', '127.0.0.1');
});

describe('createMeshNode', () => {
  it('static peers: Warp Mesh options build a cluster and a bus that deliver', async () => {
    const a = await createMeshNode({ name: 'wa', port: 0, bindHost: '127.0.0.1', multicast: false, heartbeat: 250, batchInterval: 10, batchSize: 5, cluster: { profile: 'fast' } });
    nodes.push(a);
    const b = await createMeshNode({ name: 'wb', port: 0, bindHost: '127.0.0.1', peers: [a.cluster.localNode.address], heartbeat: 250, batchInterval: 10, cluster: { profile: 'fast' } });
    nodes.push(b);
    expect(a.bus.options.batchSize).toBe(5);
    expect(a.bus.options.batchInterval).toBe(10);
    expect(a.cluster.config.probeInterval).toBe(250);
    await until(() => a.bus.isHealthy() && b.bus.isHealthy(), 'both healthy');
    expect(b.bus.peers()).toEqual([a.cluster.localNode.address]);
    const got: string[] = [];
    b.bus.subscribe('cfg', (e) => { if (e.type === 'invalidate') got.push(e.key); });
    a.bus.publish('cfg');
    await until(() => got.length === 1, 'the invalidation');
    await expect(createMeshNode({ port: 70000 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });

  it('no peers: multicast discovery finds the others (zero configuration)', async (ctx) => {
    if (!loopback.ok) {
      console.warn(`[grapevine] createMeshNode multicast test skipped: ${loopback.detail}`);
      ctx.skip(loopback.detail);
    }
    const mport = await freeUdpPort();
    const opts = { port: 0, bindHost: '127.0.0.1', group: '239.0.0.1', multicastPort: mport, interface: '127.0.0.1', batchInterval: 10, cluster: { profile: 'fast' as const } };
    const x = await createMeshNode({ ...opts, name: 'mx' });
    nodes.push(x);
    const y = await createMeshNode({ ...opts, name: 'my' });
    nodes.push(y);
    await until(() => x.cluster.counts().alive === 2 && y.cluster.counts().alive === 2, 'discovery by multicast');
    const got: string[] = [];
    x.bus.subscribe({ prefix: '' }, (e) => { if (e.type === 'invalidate') got.push(e.key); });
    y.bus.publish('hello');
    await until(() => got.length === 1, 'the invalidation');
  });
});
