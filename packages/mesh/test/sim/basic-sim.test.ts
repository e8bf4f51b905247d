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
