/**
 * The bus's contract on the simulator: acknowledged publishes (replicas, zones, the typed
 * timeout), message-type block and collisions, subscriptions (exact, prefix, iterator, abort,
 * overflow), pending-dedup on the wire, values, leases, health.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, QuorumTimeoutError, type MeshEvent } from '@grapevine/mesh';
import { MeshSim } from './mesh-harness.js';
import { packetFit } from '../../src/packet-fit.js';

let ms: MeshSim | undefined;
afterEach(async () => {
  await ms?.shutdown();
  ms = undefined;
});

async function cluster(n: number, seed: number, opts = {}) {
  ms = new MeshSim(seed, opts);
  await ms.start(n);
  return [...ms.nodes.values()];
}

describe('publishAndAwait', () => {
  it('resolves when enough distinct subscribing members acked, in enough zones', async () => {
    const nodes = await cluster(6, 31);
    const zones = ['eu', 'eu', 'us', 'us', 'ap', 'ap'];
    nodes.forEach((n, i) => n.sim.cluster.updateMeta({ zone: zones[i]! }));
    await ms!.sim.clock.advance(2000);
    // Every node of the harness subscribes to every key: all five others ack, from three zones.
    const p = nodes[0]!.bus.publishAndAwait('order:1', { replicas: 5, zones: 3, timeout: 3000 });
    let result: Awaited<typeof p> | undefined;
    void p.then((r) => (result = r));
    await ms!.sim.runUntil(() => result !== undefined, 3000, 10);
    expect(result!.acked.length).toBe(5);
    expect(new Set(result!.acked)).toEqual(new Set(nodes.slice(1).map((n) => n.sim.name)));
    expect(new Set(result!.zones)).toEqual(new Set(['eu', 'us', 'ap']));
  });

  it('rejects with ERR_QUORUM_TIMEOUT, naming who acked, when too few members subscribe', async () => {
    ms = new MeshSim(32);
    await ms.sim.startCluster(5);
    await ms.sim.runUntil(() => ms!.sim.converged(), 10_000);
    const buses = ms.sim.nodes.map((n) => createMesh(n.cluster));
    try {
      // Two members subscribe to the key; one to another key; one to nothing.
      buses[1]!.subscribe('price:7', () => {});
      buses[2]!.subscribe({ prefix: 'price:' }, () => {});
      buses[3]!.subscribe('stock:7', () => {});
      const settled: { ok?: unknown; err?: unknown } = {};
      buses[0]!.publishAndAwait('price:7', { replicas: 3, timeout: 2000 }).then((ok) => (settled.ok = ok), (err) => (settled.err = err));
      await ms.sim.clock.advance(2500);
      expect(settled.ok).toBeUndefined();
      expect(settled.err).toBeInstanceOf(QuorumTimeoutError);
      const err = settled.err as QuorumTimeoutError;
      expect(err.code).toBe('ERR_QUORUM_TIMEOUT');
      expect([...err.acked].sort()).toEqual([ms.sim.nodes[1]!.name, ms.sim.nodes[2]!.name]);
      expect(err.wanted).toEqual({ replicas: 3, zones: 0 });
      // Two replicas are there: that resolves.
      let two: unknown;
      void buses[0]!.publishAndAwait('price:7', { replicas: 2, timeout: 2000 }).then((r) => (two = r));
      await ms.sim.runUntil(() => two !== undefined, 2000, 10);
      expect((two as { acked: string[] }).acked.length).toBe(2);
    } finally {
      for (const b of buses) await b.close();
    }
  });
});

describe('message types', () => {
  it('takes 65000–65015 by default, moves with typeBase, and collides with ERR_DUPLICATE_HANDLER', async () => {
    ms = new MeshSim(33);
    await ms.sim.startCluster(2);
    const c = ms.sim.nodes[0]!.cluster;
    const bus = createMesh(c);
    expect(() => createMesh(c)).toThrow(expect.objectContaining({ code: 'ERR_DUPLICATE_HANDLER' }));
    expect(() => c.handle(65000, () => {})).toThrow(expect.objectContaining({ code: 'ERR_DUPLICATE_HANDLER' }));
    const other = createMesh(c, { typeBase: 1000 });
    await other.close();
    await bus.close();
    // After close the types are free again.
    const off = c.handle(65000, () => {});
    expect(() => createMesh(c)).toThrow(expect.objectContaining({ code: 'ERR_DUPLICATE_HANDLER' }));
    off();
    expect(() => createMesh(c, { typeBase: 65530 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => createMesh(c, { batchSize: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => createMesh(c, { nonsense: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});

describe('subscriptions and publishing', () => {
  it('exact and prefix subscriptions, values, leases, iterator with abort', async () => {
    ms = new MeshSim(34);
    await ms.sim.startCluster(3);
    await ms.sim.runUntil(() => ms!.sim.converged(), 10_000);
    const [a, b] = ms.sim.nodes.map((n) => createMesh(n.cluster));
    const exact: MeshEvent[] = [];
    const prefix: MeshEvent[] = [];
    const lease: MeshEvent[] = [];
    b!.subscribe('user:1', (e) => exact.push(e));
    const sub = b!.subscribe({ prefix: 'user:' }, (e) => prefix.push(e));
    b!.subscribeLease('L9', (e) => lease.push(e));
    const ac = new AbortController();
    const iter = b!.subscribe('user:2', { signal: ac.signal });
    a!.publish('user:1', { value: { name: 'Ada' } });
    a!.publish('user:2');
    a!.publish('other');
    a!.revokeLease('L9');
    await ms.sim.clock.advance(500);
    expect(exact).toEqual([expect.objectContaining({ type: 'invalidate', key: 'user:1', value: { name: 'Ada' }, hasValue: true, origin: ms.sim.nodes[0]!.name })]);
    expect(prefix.map((e) => (e as { key: string }).key)).toEqual(['user:1', 'user:2']);
    expect(lease.map((e) => (e as { key: string }).key)).toEqual(['lease:L9']);
    const first = await iter.next();
    expect(first.value).toMatchObject({ key: 'user:2', hasValue: false });
    ac.abort();
    expect((await iter.next()).done).toBe(true);
    sub.unsubscribe();
    a!.publish('user:3');
    await ms.sim.clock.advance(500);
    expect(prefix.length).toBe(2);
    await a!.close();
    await b!.close();
  });

  it('a slow iterator gets one overflow event (counted), never a silent drop', async () => {
    ms = new MeshSim(35);
    await ms.sim.startCluster(2);
    await ms.sim.runUntil(() => ms!.sim.converged(), 10_000);
    const [a, b] = ms.sim.nodes.map((n, i) => createMesh(n.cluster, i === 1 ? { subscriberBuffer: 4 } : {}));
    const it = b!.subscribe({ prefix: 'k' });
    for (let i = 0; i < 10; i++) a!.publish(`k${i}`);
    await ms.sim.clock.advance(500);
    const got: MeshEvent[] = [];
    for (let i = 0; i < 2; i++) got.push((await it.next()).value as MeshEvent);
    // 10 events into a buffer of 4: k4 found it full (k0–k4 dropped, one overflow), k5–k7 queued
    // behind it, k8 found it full again (k5–k8 dropped, the overflow now says 9), k9 queued.
    expect(got).toEqual([{ type: 'overflow', dropped: 9 }, expect.objectContaining({ type: 'invalidate', key: 'k9' })]);
    expect(b!.metrics().overflowed).toBe(9);
    a!.publish('k10');
    await ms.sim.clock.advance(500);
    expect((await it.next()).value).toMatchObject({ key: 'k10' });
    await a!.close();
    await b!.close();
  });

  it('pending-dedup: a key published many times in one batch travels once, with the newest value', async () => {
    ms = new MeshSim(36);
    await ms.sim.startCluster(2);
    await ms.sim.runUntil(() => ms!.sim.converged(), 10_000);
    const [a, b] = ms.sim.nodes.map((n) => createMesh(n.cluster));
    const got: MeshEvent[] = [];
    b!.subscribe({ prefix: '' }, (e) => got.push(e));
    for (let i = 0; i < 100; i++) a!.publish('hot', { value: i });
    await ms.sim.clock.advance(500);
    expect(got).toEqual([expect.objectContaining({ key: 'hot', value: 99, seq: 1 })]);
    expect(a!.metrics()).toMatchObject({ published: 100, merged: 99, batches: 1, eventsSent: 1 });
    expect(() => a!.publish('x'.repeat(600))).toThrow(expect.objectContaining({ code: 'ERR_TOO_LARGE' }));
    expect(() => a!.publish('big', { value: 'v'.repeat(5000) })).toThrow(expect.objectContaining({ code: 'ERR_TOO_LARGE' }));
    expect(() => a!.publish('')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    // An aborted publish is withdrawn before its batch leaves.
    const ac = new AbortController();
    a!.publish('gone', { signal: ac.signal });
    ac.abort();
    await ms.sim.clock.advance(500);
    expect(got.length).toBe(1);
    await a!.close();
    expect(() => a!.publish('late')).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    await b!.close();
  });

  it('health: joined with a live peer, or alone by configuration', async () => {
    ms = new MeshSim(37);
    await ms.sim.startCluster(1);
    const c = ms.sim.nodes[0]!.cluster;
    const alone = createMesh(c);
    expect(alone.isHealthy()).toBe(false);
    await alone.close();
    const ok = createMesh(c, { allowAlone: true });
    expect(ok.isHealthy()).toBe(true);
    expect(ok.peers()).toEqual([]);
    await ok.close();
    expect(ok.isHealthy()).toBe(false);
  });
});

describe('versions across origins', () => {
  it('two origins write one key: everyone ends on the newer write, the older is dropped as stale', async () => {
    ms = new MeshSim(38);
    await ms.sim.startCluster(3);
    await ms.sim.runUntil(() => ms!.sim.converged(), 10_000);
    const buses = ms.sim.nodes.map((n) => createMesh(n.cluster));
    const last = buses.map(() => undefined as unknown);
    buses.forEach((b, i) => b.subscribe('k', (e) => { if (e.type === 'invalidate') last[i] = e.value; }));
    buses[0]!.publish('k', { value: 'old' });
    await ms.sim.clock.advance(5);
    buses[1]!.publish('k', { value: 'new' });
    // Hold node 0's batch back from node 2 so the newer write arrives there first.
    ms.sim.net.setDelay(ms.sim.nodes[0]!.transport.address, ms.sim.nodes[2]!.transport.address, 400);
    await ms.sim.clock.advance(2000);
    expect(last[2]).toBe('new');
    expect(last[0]).toBe('new');
    expect(last[1]).toBeUndefined(); // its own write; the older one from node 0 was stale here
    expect(buses[1]!.metrics().stale).toBe(1);
    for (const b of buses) await b.close();
  });
});

describe('the byte budget', () => {
  for (const codecName of ['json', 'msgpack'] as const) {
    it(`every batch fits one packet, with keys and values the ${codecName} codec escapes or widens`, async () => {
      const { jsonCodec } = await import('@grapevine/core');
      ms = new MeshSim(39, {}, codecName === 'json' ? { codec: jsonCodec } : {});
      await ms.start(3);
      const [a, b] = [...ms.nodes.values()];
      let seed = 7;
      const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
      const alphabet = ['a', 'Z', '"', '\\', '\n', '\u0001', 'é', '€', '😀', ':'];
      const keys = new Set<string>();
      for (let i = 0; keys.size < 400; i++) {
        let k = `k${i}:`;
        const len = rnd(60);
        for (let j = 0; j < len; j++) k += alphabet[rnd(alphabet.length)];
        keys.add(k);
      }
      for (const k of keys) a!.bus.publish(k, rnd(3) === 0 ? { value: { s: k, n: rnd(1e9) } } : undefined);
      await ms.sim.clock.advance(3000);
      expect(b!.seen.size).toBe(keys.size);
      expect(ms.sim.totalCounter('grapevine.mesh.oversize')).toBe(0);
      // Relays forwarded the bytes they received (Codec.frameArray), never re-encoding a batch.
      expect(ms.sim.totalCounter('grapevine.broadcast.relayed')).toBeGreaterThan(0);
      expect(ms.sim.totalCounter('grapevine.broadcast.relay-reencoded')).toBe(0);
      expect(a!.bus.metrics().batches).toBeGreaterThan(keys.size / 20);
      // The publisher measures a batch once and compares with maxMessageBytes: exactly the
      // cluster's own fits check, on both sides of the packet's edge.
      const c = a!.bus.cluster;
      const fit = packetFit(c);
      let crossed = 0;
      for (let len = fit.payloadBudget - 40; len <= fit.payloadBudget + 40; len++) {
        const payload = [1, 2, [['x'.repeat(len), 5, 0]]];
        const fits = c.broadcastFits(65000, payload);
        expect(fit.messageBytes(65000, payload) <= fit.maxMessageBytes).toBe(fits);
        if (!fits) crossed++;
      }
      expect(crossed).toBeGreaterThan(0);
    });
  }
});
