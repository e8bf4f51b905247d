/**
 * Per-owner batching on the simulator: calls made in one turn share one request per owner, every
 * record is still counted on its own toward W, and an owner that cannot be reached fails (and
 * hints) every record of its batch without holding up the others.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MemoryMetrics } from '@grapevine/core';
import { QuorumError } from '../src/index.js';
import { KvSim, bytes, text } from './sim.js';

let sim: KvSim | undefined;
afterEach(async () => {
  await sim?.shutdown();
  sim = undefined;
});


describe('owner batches', () => {
  it('many calls in one turn share one request per owner; each still reaches W; reads batch too', async () => {
    sim = new KvSim(21);
    for (let i = 0; i < 5; i++) await sim.add();
    expect(await sim.runUntil(() => sim!.ringsAgree(), 10_000)).toBe(true);
    const a = sim.nodes[0]!;
    const m = a.cluster.metrics as MemoryMetrics;
    const keys = Array.from({ length: 200 }, (_, i) => `b:${i}`);
    await sim.settle(Promise.all(keys.map((k) => a.kv.set(k, bytes(`v-${k}`)))));
    const writes = m.samples.get('kv.batch-records')!;
    // 200 single-key sets from one turn: at most one request per other owner (4), not ~400.
    expect(writes.count).toBeLessThanOrEqual(4);
    expect(writes.sum).toBe(keys.reduce((s, k) => s + a.kv.owners(k).filter((o) => o !== a.name).length, 0));
    for (const k of keys) {
      const holders = sim.live().filter((n) => n.kv.localRecords().some((r) => r.key === k));
      expect(holders.length).toBeGreaterThanOrEqual(2);
    }
    const reader = sim.nodes[1]!;
    const got = await sim.settle(Promise.all(keys.map((k) => reader.kv.get(k))));
    expect(got.map(text)).toEqual(keys.map((k) => `v-${k}`));
    expect((reader.cluster.metrics as MemoryMetrics).samples.get('kv.batch-records')!.count).toBeLessThanOrEqual(4);
  }, 30_000);

  it('an unreachable owner fails every record of its batch (hinted, never a silent success); the rest succeed', async () => {
    sim = new KvSim(22, { requestTimeout: 300, replicas: 3, writeQuorum: 3 });
    for (let i = 0; i < 4; i++) await sim.add();
    expect(await sim.runUntil(() => sim!.ringsAgree(), 10_000)).toBe(true);
    const a = sim.nodes[0]!;
    const down = sim.nodes[3]!;
    // Cut `down` off without it leaving: requests to it time out.
    sim.net.partition([down.transport.address], sim.nodes.slice(0, 3).map((n) => n.transport.address));
    const keys = Array.from({ length: 60 }, (_, i) => `p:${i}`);
    const results = await sim.settle(Promise.allSettled(keys.map((k) => a.kv.set(k, bytes(k)))));
    keys.forEach((k, i) => {
      const r = results[i]!;
      if (a.kv.owners(k).includes(down.name)) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(QuorumError);
      } else expect(r.status).toBe('fulfilled');
    });
    expect(a.kv.stats().hints).toBe(keys.filter((k) => a.kv.owners(k).includes(down.name)).length);
  }, 30_000);
});
