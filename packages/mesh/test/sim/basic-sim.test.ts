import { afterEach, describe, expect, it } from 'vitest';
import { MeshSim } from './mesh-harness.js';

let ms: MeshSim | undefined;
afterEach(async () => {
  await ms?.shutdown();
  ms = undefined;
});

describe('mesh on the simulator', () => {
  it('delivers a publish to every other node, not to itself', async () => {
    ms = new MeshSim(1);
    await ms.start(5);
    const [a] = [...ms.nodes.values()];
    a!.bus.publish('user:1');
    a!.bus.publish('user:2', { value: { name: 'x' } });
    await ms.sim.clock.advance(1000);
    for (const n of ms.nodes.values()) {
      if (n === a) expect(n.seen.size).toBe(0);
      else expect([...n.seen].sort()).toEqual(['user:1', 'user:2']);
    }
  });
});

describe('first contact', () => {
  it('a burst on a lossless network is delivered by broadcast alone: the first-contact fetch resends nothing already on its way', async () => {
    ms = new MeshSim(3, { batchSize: 1000 });
    await ms.start(6);
    const [a] = [...ms.nodes.values()];
    // Slices of 500 a virtual millisecond apart: many batches are in flight while each
    // receiver's first-contact fetch (sent on the first batch) is out.
    for (let i = 0; i < 5000; ) {
      for (const stop = i + 500; i < stop; i++) a!.bus.publish(`k${i}`);
      await ms.sim.clock.advance(1);
    }
    await ms.sim.clock.advance(3000);
    for (const n of ms.nodes.values()) {
      if (n === a) continue;
      expect(n.seen.size).toBe(5000);
      const m = n.bus.metrics();
      expect(m.fetchedEvents).toBe(0);
      expect(m.gaps).toBe(0);
    }
  });
});
