/**
 * What a receiver missed comes back: a 50/50 partition while both sides publish, a node restarted
 * under the same name, an origin whose log is too short (then, and only then, a `gap`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MeshSim, type MeshSimNode } from './mesh-harness.js';

let ms: MeshSim | undefined;
afterEach(async () => {
  await ms?.shutdown();
  ms = undefined;
});

/** Key i of an origin is its event i + 1 (every key distinct, published in order). */
const key = (o: MeshSimNode, i: number): string => `${o.sim.name}:item:${i}`;

async function partitionRun(seed: number, meshOptions: Parameters<typeof MeshSim.prototype.attach>[1], perSide: number) {
  ms = new MeshSim(seed, meshOptions);
  await ms.start(20);
  const nodes = [...ms.nodes.values()];
  const a = nodes.slice(0, 10);
  const b = nodes.slice(10);
  const origins = [a[2]!, a[7]!, b[1]!, b[6]!];
  ms.sim.net.partition(a.map((n) => n.sim.transport.address), b.map((n) => n.sim.transport.address));
  // 20 s of partition, every origin publishing throughout.
  const rounds = 20;
  for (let r = 0; r < rounds; r++) {
    for (const o of origins) for (let k = 0; k < perSide / rounds; k++) o.bus.publish(key(o, (r * perSide) / rounds + k));
    await ms.sim.clock.advance(1000);
  }
  expect(a[0]!.sim.cluster.members({ state: 'alive' }).length).toBe(10); // the sides really lost each other
  ms.sim.net.heal();
  return { nodes, origins, perSide };
}

/** Every key of every other origin is seen, or inside a gap this node was told of. */
function accounted(n: MeshSimNode, origins: MeshSimNode[], per: number): { seen: number; inGap: number; missing: number } {
  let seen = 0, inGap = 0, missing = 0;
  for (const o of origins) {
    if (o === n) continue;
    for (let i = 0; i < per; i++) {
      if (n.seen.has(key(o, i))) seen++;
      else if (n.gaps.some((g) => g.origin === o.sim.name && g.from <= i + 1 && i + 1 <= g.to)) inGap++;
      else missing++;
    }
  }
  return { seen, inGap, missing };
}

describe('recovery', () => {
  it('a 20 s 50/50 partition while both sides publish: after healing every subscriber has every event, no gap', async () => {
    const { nodes, origins, perSide } = await partitionRun(21, {}, 400);
    const done = (): boolean => nodes.every((n) => accounted(n, origins, perSide).seen === (origins.includes(n) ? 3 : 4) * perSide);
    expect(await ms!.sim.runUntil(done, 60_000, 200)).toBe(true);
    for (const n of nodes) expect(n.gaps).toEqual([]);
    expect(nodes.reduce((s, n) => s + n.bus.metrics().fetchedEvents, 0)).toBeGreaterThanOrEqual(10 * 2 * perSide);
  }, 180_000);

  it('the same partition with logs too short for it: a gap for exactly what the log lost, everything else delivered', async () => {
    const { nodes, origins, perSide } = await partitionRun(22, { retentionEvents: 100 }, 400);
    const settled = (): boolean => nodes.every((n) => accounted(n, origins, perSide).missing === 0);
    expect(await ms!.sim.runUntil(settled, 60_000, 200)).toBe(true);
    const a = nodes.slice(0, 10);
    for (const n of nodes) {
      const r = accounted(n, origins, perSide);
      expect(r.missing).toBe(0);
      for (const o of origins) {
        if (o === n) continue;
        const sameSide = a.includes(n) === a.includes(o);
        const gaps = n.gaps.filter((g) => g.origin === o.sim.name);
        if (sameSide) {
          // Never cut off from this origin: no gap, every event.
          expect(gaps).toEqual([]);
        } else {
          // Cut off for longer than 100 events: one gap, and it ends where the log began.
          expect(gaps.length).toBe(1);
          expect(gaps[0]!.to).toBe(perSide - 100);
          // The last 100 events, which the log held, were delivered.
          for (let i = perSide - 100; i < perSide; i++) expect(n.seen.has(key(o, i))).toBe(true);
        }
      }
    }
  }, 180_000);

  it('a node restarted under the same name recovers what it missed while it was down', async () => {
    ms = new MeshSim(23);
    await ms.start(10);
    const nodes = [...ms.nodes.values()];
    const origin = nodes[1]!;
    const victim = nodes[6]!;
    for (let i = 0; i < 50; i++) origin.bus.publish(key(origin, i));
    await ms.sim.clock.advance(1000);
    expect(victim.seen.size).toBe(50);
    await victim.bus.close();
    await victim.sim.cluster.close();
    // Down long enough to be declared dead; the origin keeps publishing meanwhile.
    for (let r = 0; r < 10; r++) {
      for (let i = 0; i < 10; i++) origin.bus.publish(key(origin, 50 + r * 10 + i));
      await ms.sim.clock.advance(1000);
    }
    expect(origin.sim.cluster.member(victim.sim.name)?.state).toBe('dead');
    const fresh = await ms.sim.addNode(victim.sim.name);
    const joined = fresh.cluster.join(nodes[0]!.sim.transport.address);
    await ms.sim.clock.advance(100);
    await joined;
    const back = ms.attach(fresh);
    const all = (): boolean => { for (let i = 50; i < 150; i++) if (!back.seen.has(key(origin, i))) return false; return true; };
    expect(await ms.sim.runUntil(all, 10_000, 100)).toBe(true);
    expect(back.gaps).toEqual([]);
  }, 60_000);

  it('a node restarted faster than failure detection recovers too', async () => {
    ms = new MeshSim(24);
    await ms.start(10);
    const nodes = [...ms.nodes.values()];
    const origin = nodes[2]!;
    const victim = nodes[5]!;
    await victim.bus.close();
    await victim.sim.cluster.close();
    for (let i = 0; i < 30; i++) origin.bus.publish(key(origin, i));
    await ms.sim.clock.advance(300);
    const fresh = await ms.sim.addNode(victim.sim.name);
    const joined = fresh.cluster.join(nodes[0]!.sim.transport.address);
    await ms.sim.clock.advance(50);
    await joined;
    const back = ms.attach(fresh);
    const all = (): boolean => { for (let i = 0; i < 30; i++) if (!back.seen.has(key(origin, i))) return false; return true; };
    expect(await ms.sim.runUntil(all, 10_000, 100)).toBe(true);
  }, 60_000);
});
