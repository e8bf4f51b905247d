/**
 * At scale under loss: 100 simulated nodes, 10% of packets lost on every inbound link, 10 origins
 * publishing 10,000 invalidations in all. Every alive subscriber must see every key, with no gap
 * (the logs are long enough), by gossip redundancy and, for what it misses, by recovery.
 */
import { describe, expect, it } from 'vitest';
import { MeshSim } from './mesh-harness.js';

describe('mesh at scale', () => {
  it('100 nodes, 10% loss, 10,000 invalidations: every alive subscriber sees every key', async () => {
    // 50 keys a batch (they fit one packet) keeps the simulation's work, and so the test, short.
    const ms = new MeshSim(101, { batchSize: 50 });
    try {
      await ms.start(100);
      ms.sim.net.setInboundLoss('*', 0.1);
      const nodes = [...ms.nodes.values()];
      const origins = nodes.filter((_, i) => i % 10 === 3);
      const PER_ORIGIN = 1000;
      for (let round = 0; round < PER_ORIGIN / 50; round++) {
        for (const o of origins) for (let k = 0; k < 50; k++) o.bus.publish(`${o.sim.name}:item:${round * 50 + k}`);
        await ms.sim.clock.advance(100);
      }
      const expected = (n: (typeof nodes)[number]): number => (origins.includes(n) ? origins.length - 1 : origins.length) * PER_ORIGIN;
      const complete = (): boolean => nodes.every((n) => n.seen.size === expected(n));
      expect(await ms.sim.runUntil(complete, 30_000, 100)).toBe(true);
      for (const n of nodes) {
        expect(n.gaps).toEqual([]);
        for (const o of origins) if (o !== n) for (let i = 0; i < PER_ORIGIN; i += 97) expect(n.seen.has(`${o.sim.name}:item:${i}`)).toBe(true);
      }
      expect(ms.sim.net.stats.lost).toBeGreaterThan(1000); // the loss really happened
      const total = (f: 'duplicates' | 'fetchedEvents' | 'delivered'): number => nodes.reduce((s, n) => s + n.bus.metrics()[f], 0);
      // Delivered exactly once per (event, other node): duplicates were dropped, not delivered.
      expect(total('delivered')).toBe(origins.length * PER_ORIGIN * (nodes.length - 1));
      expect(total('duplicates')).toBeGreaterThan(0);
      expect(total('fetchedEvents')).toBeGreaterThan(0); // recovery filled what gossip lost
      // Every batch fitted one packet: none went over the reliable path as oversize.
      expect(ms.sim.totalCounter('grapevine.mesh.oversize')).toBe(0);
    } finally {
      await ms.shutdown();
    }
  }, 300_000);
});
