/**
 * The bus over real sockets: four nodes made by createCluster (UDP + TCP on 127.0.0.1, port 0),
 * encrypted, publishing to each other: every key reaches every other node, batches stay inside
 * one packet even with encryption's overhead, recovery fetches go over TCP, publishAndAwait
 * gathers real acknowledgements and its timeout is typed. Waits poll with generous bounds; no
 * timing is asserted.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '@grapevine/node';
import { createMesh, QuorumTimeoutError, type MeshBus } from '@grapevine/mesh';

const FAST = { profile: 'fast', probeInterval: 250, probeTimeout: 100, suspicionMult: 2, gossipInterval: 50 } as const;
const key = new Uint8Array(32).fill(7);

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('mesh over loopback sockets', () => {
  const clusters: Cluster[] = [];
  const buses: MeshBus[] = [];
  const seen: Set<string>[] = [];

  afterAll(async () => {
    for (const b of buses) await b.close();
    await Promise.all(clusters.map((c) => c.close()));
  });

  it('every key reaches every other node, in batches that fit one encrypted packet', async () => {
    for (let i = 0; i < 4; i++) {
      const c = await createCluster({ name: `m${i}`, bind: '127.0.0.1:0', seeds: i === 0 ? [] : [clusters[0]!.localNode.address], keys: [key], meta: { zone: `z${i % 2}` }, ...FAST });
      clusters.push(c);
    }
    await until(() => clusters.every((c) => c.counts().alive === 4), 'convergence');
    for (const c of clusters) {
      const bus = createMesh(c);
      const s = new Set<string>();
      bus.subscribe({ prefix: 'item:' }, (e) => { if (e.type === 'invalidate') s.add(e.key); });
      buses.push(bus);
      seen.push(s);
    }
    // 300 keys from each node, with values large enough that a batch of 20 would not fit a packet.
    for (const [i, b] of buses.entries()) for (let k = 0; k < 300; k++) b.publish(`item:${i}:${k}`, { value: `v${i}-${k}-${'x'.repeat(60)}` });
    await until(() => seen.every((s) => s.size === 900), 'every key on every node');
    for (const [i, s] of seen.entries()) for (const [j] of buses.entries()) if (i !== j) expect(s.has(`item:${j}:299`)).toBe(true);
    const total = buses.reduce((n, b) => n + b.metrics().batches, 0);
    expect(total).toBeGreaterThan(4 * 300 / 20); // batches were split by bytes, not only by count
    expect(clusters.reduce((n, c) => n + (c.metrics as unknown as { counter(k: string): number }).counter('grapevine.mesh.oversize'), 0)).toBe(0);
  });

  it('publishAndAwait gathers real acknowledgements, and times out with the typed error', async () => {
    const r = await buses[0]!.publishAndAwait('item:ack', { replicas: 3, zones: 2, timeout: 10_000 });
    expect(new Set(r.acked)).toEqual(new Set(['m1', 'm2', 'm3']));
    expect(new Set(r.zones)).toEqual(new Set(['z0', 'z1']));
    const err = await buses[0]!.publishAndAwait('nobody:listens', { replicas: 1, timeout: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuorumTimeoutError);
    expect((err as QuorumTimeoutError).acked).toEqual([]);
  });
});
