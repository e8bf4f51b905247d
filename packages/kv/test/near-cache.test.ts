/**
 * The near cache on the simulator: a node that reads a key it does not own keeps the value; a
 * write coordinated on another node invalidates that copy through the mesh bus (well before the
 * TTL); without a bus a stale copy is served at most `ttl` ms; a read racing with an invalidation
 * does not cache what it fetched; the cache stays within its bounds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type MeshBus } from '@grapevine/mesh';
import { NearCache, type KvRecord } from '../src/index.js';
import { KvSim, type KvNode, bytes, text } from './sim.js';

let sim: KvSim | undefined;
const buses: MeshBus[] = [];
afterEach(async () => {
  for (const b of buses.splice(0)) await b.close();
  await sim?.shutdown();
  sim = undefined;
});


/** A key that `reader` does not own. */
function remoteKey(reader: KvNode, tag: string): string {
  for (let i = 0; ; i++) {
    const k = `${tag}:${i}`;
    if (!reader.kv.owners(k).includes(reader.name)) return k;
  }
}

describe('near cache', () => {
  it('a write on node A invalidates node B\'s near-cached value through the mesh bus, well before the ttl', async () => {
    const TTL = 60_000;
    sim = new KvSim(11, { nearCache: { ttl: TTL } });
    sim.perNode = (cluster) => {
      const bus = createMesh(cluster, { clock: sim!.clock });
      buses.push(bus);
      return { nearCache: { ttl: TTL, bus } };
    };
    for (let i = 0; i < 5; i++) await sim.add();
    expect(await sim.runUntil(() => sim!.ringsAgree(), 10_000)).toBe(true);
    const [a, b] = [sim.nodes[0]!, sim.nodes[1]!];
    const key = remoteKey(b, 'near');
    await sim.settle(a.kv.set(key, bytes('v1')));
    expect(text(await sim.settle(b.kv.get(key)))).toBe('v1');
    const s1 = b.kv.stats().nearCache!;
    expect(s1.entries).toBe(1);
    // The second read is answered from B's memory (a hit, and no request needed: getLocal has it).
    expect(text(b.kv.getLocal(key)?.value)).toBe('v1');
    expect(text(await sim.settle(b.kv.get(key)))).toBe('v1');
    expect(b.kv.stats().nearCache!.hits).toBeGreaterThan(s1.hits);

    const t0 = sim.clock.now();
    await sim.settle(a.kv.set(key, bytes('v2')));
    // B drops its copy when the invalidation arrives: far sooner than the 60 s ttl.
    expect(await sim.runUntil(() => b.kv.getLocal(key) === undefined, 5_000, 10)).toBe(true);
    expect(sim.clock.now() - t0).toBeLessThan(2_000);
    expect(b.kv.stats().nearCache!.invalidations).toBeGreaterThanOrEqual(1);
    expect(text(await sim.settle(b.kv.get(key)))).toBe('v2');
    // A delete invalidates too.
    await sim.settle(a.kv.delete(key));
    expect(await sim.runUntil(() => b.kv.getLocal(key) === undefined, 5_000, 10)).toBe(true);
    expect(await sim.settle(b.kv.get(key))).toBeUndefined();
    // The writer's own near cache never serves its old value after its own write.
    const k2 = remoteKey(a, 'own');
    await sim.settle(a.kv.set(k2, bytes('x1')));
    expect(text(await sim.settle(a.kv.get(k2)))).toBe('x1');
    await sim.settle(a.kv.set(k2, bytes('x2')));
    expect(text(a.kv.getLocal(k2)?.value)).toBe(undefined);
    expect(text(await sim.settle(a.kv.get(k2)))).toBe('x2');
  }, 30_000);

  it('without a bus a stale value is served at most ttl ms; R > 1, nearCache: false and owners bypass it', async () => {
    const TTL = 2_000;
    sim = new KvSim(12, { nearCache: { ttl: TTL } });
    for (let i = 0; i < 5; i++) await sim.add();
    expect(await sim.runUntil(() => sim!.ringsAgree(), 10_000)).toBe(true);
    const [a, b] = [sim.nodes[0]!, sim.nodes[1]!];
    const key = remoteKey(b, 'stale');
    await sim.settle(a.kv.set(key, bytes('old')));
    const readAt = sim.clock.now();
    expect(text(await sim.settle(b.kv.get(key)))).toBe('old');
    await sim.settle(a.kv.set(key, bytes('new')));
    // Stale, but only until the ttl since it was read.
    expect(text(await sim.settle(b.kv.get(key)))).toBe('old');
    expect(text(await sim.settle(b.kv.get(key, { r: 2 })))).toBe('new');
    expect(text(await sim.settle(b.kv.get(key, { nearCache: false })))).toBe('new');
    let lastOld = readAt;
    while (sim.clock.now() < readAt + TTL + 500) {
      if (text(await sim.settle(b.kv.get(key))) === 'old') lastOld = sim.clock.now();
      await sim.clock.advance(100);
    }
    expect(lastOld - readAt).toBeLessThanOrEqual(TTL);
    expect(text(await sim.settle(b.kv.get(key)))).toBe('new');
    // An owner reads its own store, never a near-cached copy.
    const owner = sim.nodes.find((n) => n.kv.owners(key).includes(n.name))!;
    await sim.settle(owner.kv.get(key));
    expect(owner.kv.stats().nearCache!.entries).toBe(0);
  }, 30_000);

  it('a read racing with an invalidation does not cache what it fetched; bounds hold', () => {
    const c = new NearCache({ maxEntries: 3, maxBytes: 1024 * 1024, ttl: 1000, bus: undefined, prefix: 'kv:' });
    const rec = (key: string, v: string, exp = 0): KvRecord => ({ key, value: bytes(v), ts: 1, node: 'n', exp });
    const t = c.begin('k', 0);
    c.invalidate('k');
    c.fill('k', t, rec('k', 'old'), 5);
    expect(c.get('k', 6)).toBeUndefined();
    // A value's own expiry caps the entry below the ttl.
    c.fill('e', c.begin('e', 0), rec('e', 'v', 300), 1);
    expect(c.get('e', 299)?.key).toBe('e');
    expect(c.get('e', 300)).toBeUndefined();
    for (const k of ['a', 'b', 'c', 'd']) c.fill(k, c.begin(k, 0), rec(k, 'v'), 0);
    expect(c.stats().entries).toBe(3);
    expect(c.get('a', 1)).toBeUndefined();
    expect(c.stats().evictions).toBeGreaterThanOrEqual(1);
    const small = new NearCache({ maxEntries: 100, maxBytes: 2048, ttl: 1000, bus: undefined, prefix: 'kv:' });
    for (let i = 0; i < 50; i++) small.fill(`k${i}`, small.begin(`k${i}`, 0), rec(`k${i}`, 'x'.repeat(100)), 0);
    expect(small.stats().bytes).toBeLessThanOrEqual(2048);
    small.clear();
    expect(small.stats().entries).toBe(0);
  });
});
