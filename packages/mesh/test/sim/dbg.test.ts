import { it } from 'vitest';
import { MeshSim } from './mesh-harness.js';
it('dbg', async () => {
  const N = Number(process.env.N ?? 30), O = Number(process.env.O ?? 3), PER = Number(process.env.PER ?? 200);
  const ms = new MeshSim(101, { batchSize: Number(process.env.B ?? 20) });
  let t = Date.now();
  const lap = (s: string) => { console.log(s, Date.now() - t, 'ms'); t = Date.now(); };
  await ms.start(N); lap('start');
  ms.sim.net.setInboundLoss('*', 0.1);
  const nodes = [...ms.nodes.values()];
  const origins = nodes.filter((_, i) => i % 10 === 3).slice(0, O);
  const B = Number(process.env.B ?? 20);
  for (let round = 0; round < PER / B; round++) {
    for (const o of origins) for (let k = 0; k < B; k++) o.bus.publish(`${o.sim.name}:item:${round * B + k}`);
    await ms.sim.clock.advance(100);
  }
  lap('publish');
  const want = (n: any) => (origins.includes(n) ? origins.length - 1 : origins.length) * PER;
  for (let i = 0; i < 20; i++) {
    await ms.sim.clock.advance(1000);
    const missing = nodes.reduce((s, n) => s + want(n) - n.seen.size, 0);
    const f = nodes.reduce((s, n) => s + n.bus.metrics().fetches, 0);
    lap(`t+${i}s missing=${missing} fetches=${f}`);
    if (missing === 0) break;
  }
  let shown = 0;
  for (const n of nodes) {
    if (want(n) === n.seen.size || shown++ > 3) continue;
    const per = new Map<string, number>();
    for (const k of n.seen) per.set(k.split(':')[0]!, (per.get(k.split(':')[0]!) ?? 0) + 1);
    console.log(n.sim.name, JSON.stringify([...per]), JSON.stringify([...n.bus.positions()]), (n.bus as any).recovery.origins.size);
    for (const [name, st] of (n.bus as any).recovery.origins) console.log('  ', name, st.epoch, !!st.stream, st.early?.size, st.stream?.fetching, !!st.timer, st.stream?.missingSince);
  }
  await ms.shutdown();
}, 600_000);
