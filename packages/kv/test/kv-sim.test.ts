/**
 * The KV on the deterministic simulator: quorum semantics and typed errors, read repair, hinted
 * handoff, range transfer on join, and the headline property — 20 nodes with churn and 5% packet
 * loss under a write workload, then quiescence: every replica of every key agrees, no acknowledged
 * write is lost, no deleted key comes back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MemoryMetrics } from '@grapevine/core';
import { QuorumError } from '../src/index.js';
import { KvSim, type KvNode, bytes, text } from './sim.js';

let sim: KvSim | undefined;
afterEach(async () => {
  await sim?.shutdown();
  sim = undefined;
});


/** For every key, the live record held by each of its current owners (undefined = none/tombstone). */
function replicaViews(s: KvSim): Map<string, Map<string, string | undefined>> {
  const now = s.clock.now();
  const live = s.live();
  const byName = new Map(live.map((n) => [n.name, n]));
  const keys = new Set<string>();
  const held = new Map<string, Map<string, { v: string | undefined; ver: string }>>();
  for (const n of live) {
    const m = new Map<string, { v: string | undefined; ver: string }>();
    for (const r of n.kv.localRecords()) {
      keys.add(r.key);
      const alive = r.value !== null && (r.exp === 0 || r.exp > now);
      m.set(r.key, { v: alive ? text(r.value!) : undefined, ver: `${r.ts}/${r.node}` });
    }
    held.set(n.name, m);
  }
  const out = new Map<string, Map<string, string | undefined>>();
  for (const k of keys) {
    const owners = live[0]!.kv.owners(k);
    const views = new Map<string, string | undefined>();
    for (const o of owners) if (byName.has(o)) views.set(o, held.get(o)!.get(k)?.v);
    out.set(k, views);
  }
  return out;
}

describe('kv on the simulator', () => {
  it('writes reach W owners, reads return the newest, typed errors for bad keys, values and quorums', async () => {
    sim = new KvSim(1);
    for (let i = 0; i < 5; i++) await sim.add();
    expect(await sim.runUntil(() => sim!.ringsAgree(), 20_000)).toBe(true);
    const [a, b] = sim.nodes as [KvNode, KvNode];
    await sim.settle(a.kv.set('user:1', bytes('alice')));
    expect(text(await sim.settle(b.kv.get('user:1')))).toBe('alice');
    expect(await sim.settle(b.kv.has('user:1'))).toBe(true);
    expect(a.kv.owners('user:1')).toHaveLength(3);
    // Every owner, and only owners, hold it once the W-th ack and the rest arrived.
    await sim.clock.advance(100);
    const holders = sim.nodes.filter((n) => n.kv.localRecords().some((r) => r.key === 'user:1')).map((n) => n.name).sort();
    expect(holders).toEqual([...a.kv.owners('user:1')].sort());
    await sim.settle(b.kv.setMany([['x', bytes('1')], ['y', bytes('2')]]));
    expect((await sim.settle(a.kv.getMany(['x', 'y', 'nope']))).map(text)).toEqual(['1', '2', undefined]);
    expect(await sim.settle(b.kv.delete('x'))).toBe(true);
    expect(await sim.settle(b.kv.delete('x'))).toBe(false);
    expect(await sim.settle(a.kv.get('x', { r: 3 }))).toBeUndefined();
    await expect(a.kv.set('', bytes('v'))).rejects.toMatchObject({ code: 'ERR_KEY' });
    await expect(a.kv.set('k'.repeat(2000), bytes('v'))).rejects.toMatchObject({ code: 'ERR_KEY' });
    await expect(a.kv.set('k', new Uint8Array(2 * 1024 * 1024))).rejects.toMatchObject({ code: 'ERR_VALUE_TOO_LARGE' });
    await expect(a.kv.set('k', 'str' as unknown as Uint8Array)).rejects.toMatchObject({ code: 'ERR_KV_ARGUMENT' });
    await expect(a.kv.set('k', bytes('v'), { w: 4 })).rejects.toMatchObject({ code: 'ERR_KV_ARGUMENT' });
    await expect(a.kv.set('k', bytes('v'), { ttl: -1 })).rejects.toMatchObject({ code: 'ERR_KV_ARGUMENT' });

    // Kill two of a key's three owners: W=2 can no longer be met, and the call says how many answered.
    const key = 'quorum-key';
    const owners = a.kv.owners(key);
    const coordinator = sim.nodes.find((n) => n.name === owners[0])!;
    for (const o of owners.slice(1)) await sim.kill(sim.nodes.find((n) => n.name === o)!);
    const err = await sim.settle(coordinator.kv.set(key, bytes('v')).then(() => undefined, (e: unknown) => e));
    expect(err).toBeInstanceOf(QuorumError);
    expect(err).toMatchObject({ code: 'ERR_QUORUM', answered: 1, required: 2 });
    // W=1 per call still works.
    await sim.settle(coordinator.kv.set(key, bytes('v'), { w: 1 }));
  });

  it('TTL expires on every replica at the same time; expire() changes it', async () => {
    sim = new KvSim(2);
    for (let i = 0; i < 4; i++) await sim.add();
    expect(await sim.runUntil(() => sim!.ringsAgree(), 20_000)).toBe(true);
    const [a, b] = sim.nodes as [KvNode, KvNode];
    await sim.settle(a.kv.set('t', bytes('v'), { ttl: 5000 }));
    const e = await sim.settle(b.kv.getEntry('t'));
    expect(e?.expiresAt).toBeGreaterThan(sim.clock.now());
    await sim.clock.advance(2000);
    expect(text(await sim.settle(b.kv.get('t', { r: 3 })))).toBe('v');
    expect(await sim.settle(b.kv.expire('t', 60_000))).toBe(true);
    await sim.clock.advance(4000);
    expect(text(await sim.settle(b.kv.get('t', { r: 3 })))).toBe('v');
    expect(await sim.settle(b.kv.expire('t', 1000))).toBe(true);
    await sim.clock.advance(1500);
    expect(await sim.settle(b.kv.get('t', { r: 3 }))).toBeUndefined();
    expect(await sim.settle(b.kv.expire('missing', 1000))).toBe(false);
  });

  it('read repair, hinted handoff and range transfer to a joining node', async () => {
    sim = new KvSim(3, { antiEntropyInterval: 0 });
    for (let i = 0; i < 4; i++) await sim.add();
    expect(await sim.runUntil(() => sim!.ringsAgree(), 20_000)).toBe(true);
    const a = sim.nodes[0]!;
    // Hinted handoff: one owner drops everything for a while; the write is acknowledged by the
    // others and the hint lands when it is reachable again.
    const key = 'hinted';
    const owners = a.kv.owners(key);
    const down = sim.nodes.find((n) => n.name === owners[2])!;
    const coord = sim.nodes.find((n) => n.name !== down.name)!;
    sim.net.isolate(down.transport.address);
    await sim.settle(coord.kv.set(key, bytes('h')));
    expect(down.kv.localRecords().some((r) => r.key === key)).toBe(false);
    expect(coord.kv.stats().hints).toBe(1);
    sim.net.heal();
    expect(await sim.runUntil(() => down.kv.localRecords().some((r) => r.key === key && text(r.value!) === 'h'), 30_000)).toBe(true);

    // Range transfer: 300 keys, then a fifth node joins; it receives exactly the keys it now owns.
    for (let i = 0; i < 300; i++) await sim.settle(a.kv.set(`k${i}`, bytes(`v${i}`)));
    const joiner = await sim.add();
    expect(await sim.runUntil(() => sim!.ringsAgree(), 20_000)).toBe(true);
    const mine = (): number => joiner.kv.localRecords().length;
    const expected = Array.from({ length: 300 }, (_, i) => `k${i}`).filter((k) => joiner.kv.owners(k).includes(joiner.name)).length;
    expect(expected).toBeGreaterThan(100);
    expect(await sim.runUntil(() => mine() >= expected && sim!.live().every((n) => !n.kv.rebalancing), 30_000)).toBe(true);
    // And the displaced owners let go: every key sits on exactly its owners.
    const views = replicaViews(sim);
    for (let i = 0; i < 300; i++) {
      const k = `k${i}`;
      const holders = sim.live().filter((n) => n.kv.localRecords().some((r) => r.key === k)).map((n) => n.name).sort();
      expect(holders).toEqual([...a.kv.owners(k)].sort());
      expect([...views.get(k)!.values()]).toEqual([`v${i}`, `v${i}`, `v${i}`]);
    }
    expect(a.kv.stats().rangeRecordsSent + sim.live().reduce((s, n) => s + n.kv.stats().rangeRecordsSent, 0)).toBeGreaterThan(0);

    // Read repair: make one owner stale by hand, read with R=3, and it is repaired.
    const rk = 'k7';
    const ro = a.kv.owners(rk);
    const stale = sim.live().find((n) => n.name === ro[1])!;
    const writer = sim.live().find((n) => n.name !== stale.name)!;
    sim.net.isolate(stale.transport.address);
    await sim.settle(writer.kv.set(rk, bytes('new'), { w: 2 }));
    sim.net.heal();
    expect(text(stale.kv.localRecords().find((r) => r.key === rk)?.value ?? undefined)).toBe(`v7`);
    await sim.settle(writer.kv.get(rk, { r: 3 }));
    await sim.clock.advance(50);
    expect((writer.cluster.metrics as MemoryMetrics).counter('kv.read-repair')).toBeGreaterThan(0);
    expect(text(stale.kv.localRecords().find((r) => r.key === rk)?.value ?? undefined)).toBe('new');
  });

  it('20 nodes, churn and 5% loss under writes, then quiescence: replicas agree, no acknowledged write lost, no delete undone', async () => {
    sim = new KvSim(42, { antiEntropyInterval: 2000, tombstoneMinAge: 5000, hintTtl: 5000, requestTimeout: 1000 });
    for (let i = 0; i < 20; i++) await sim.add();
    expect(await sim.runUntil(() => sim!.ringsAgree(), 60_000, 100)).toBe(true);
    // 5% loss on every best-effort packet (probes, gossip); the reliable path (requests, streams)
    // is the simulated TCP and sees the kills and joins instead.
    sim.net.setInboundLoss('*', 0.05);

    // Ops per key are sequential (the next starts after the previous settled), so issue order is
    // version order; the final state must be the last acknowledged op or a later unacknowledged one.
    type Op = { value: string | null; acked: boolean };
    const history = new Map<string, Op[]>();
    const KEYS = 60;
    let rnd = 12345;
    const rand = (n: number): number => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) % n);
    let seq = 0;
    let acked = 0;
    const worker = async (key: string, rounds: number): Promise<void> => {
      const ops: Op[] = [];
      history.set(key, ops);
      for (let r = 0; r < rounds; r++) {
        const live = sim!.live();
        const coord = live[rand(live.length)]!;
        const del = rand(4) === 0;
        const op: Op = { value: del ? null : `${key}#${seq++}`, acked: false };
        ops.push(op);
        try {
          if (del) await coord.kv.delete(key);
          else await coord.kv.set(key, bytes(op.value!));
          op.acked = true;
          acked++;
        } catch {
          // not acknowledged: it may or may not have landed
        }
        await new Promise<void>((resolve) => sim!.clock.setTimer(resolve, 20 + rand(200)));
      }
    };
    const workload = Promise.all(Array.from({ length: KEYS }, (_, i) => worker(`key-${i}`, 8)));
    // Churn while the writes run: kill three nodes and add three, spaced so failure detection and
    // rebalancing happen under load.
    const churn = (async () => {
      for (let c = 0; c < 3; c++) {
        await new Promise<void>((resolve) => sim!.clock.setTimer(resolve, 800));
        const live = sim!.live();
        await sim!.kill(live[1 + rand(live.length - 1)]!);
        await new Promise<void>((resolve) => sim!.clock.setTimer(resolve, 800));
        await sim!.add();
      }
    })();
    await sim.settle(Promise.all([workload, churn]), 10);
    expect(acked).toBeGreaterThan(KEYS * 8 * 0.5);

    // Quiescence: no more loss or churn; let membership, transfers and anti-entropy finish.
    sim.net.setInboundLoss('*', 0);
    expect(await sim.runUntil(() => sim!.ringsAgree(), 60_000, 100)).toBe(true);
    const agree = (): boolean => [...replicaViews(sim!).values()].every((v) => new Set(v.values()).size <= 1);
    expect(await sim.runUntil(agree, 120_000, 500)).toBe(true);

    const views = replicaViews(sim);
    const reader = sim.live()[0]!;
    for (const [key, ops] of history) {
      const lastAck = ops.map((o) => o.acked).lastIndexOf(true);
      const allowed = new Set((lastAck < 0 ? [{ value: null }, ...ops] : ops.slice(lastAck)).map((o) => o.value ?? undefined));
      const got = text(await sim.settle(reader.kv.get(key, { r: 3 })));
      expect(allowed.has(got), `${key}: got ${got}, allowed ${[...allowed].join(',')}`).toBe(true);
      // Every replica holds the same thing as the read returned.
      for (const v of views.get(key)?.values() ?? []) expect(v).toBe(got);
    }
    // Tombstones are collected once every owner has them.
    const tombs = (): number => sim!.live().reduce((s, n) => s + n.kv.stats().tombstones, 0);
    expect(await sim.runUntil(() => tombs() === 0, 120_000, 500)).toBe(true);
  }, 180_000);
});
