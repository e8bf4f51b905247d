/** Encryption on a live (simulated) cluster: key rotation without a partition; a wrong key cannot join. */
import { describe, expect, it } from 'vitest';
import { createNonceSource, generateKey, keyId, Keyring, xchacha20poly1305 } from '@grapevine/crypto';
import { snappyCompressor } from '@grapevine/compress-snappy';
import { Sim } from './harness.js';

const SEED = Number(process.env.GRAPEVINE_SIM_SEED ?? 42);

function encryption(keys: Uint8Array[]) {
  const nonces = createNonceSource(xchacha20poly1305);
  return { cipher: xchacha20poly1305, keyring: new Keyring(keys), nextNonce: () => nonces.next() };
}

describe(`encrypted cluster simulation (seed ${SEED})`, () => {
  it('rotates the key across a live 5-node cluster with no suspicion, and keeps converging', async () => {
    const k1 = generateKey();
    let k2 = generateKey();
    while (keyId(k2) === keyId(k1)) k2 = generateKey(); // one-byte key ids: 1 in 256 collide
    const sim = new Sim({ seed: SEED + 20 });
    const rings: Keyring[] = [];
    for (let i = 0; i < 5; i++) {
      const enc = encryption([k1]);
      rings.push(enc.keyring);
      await sim.addNode(undefined, { encryption: enc, compressor: snappyCompressor, label: 'blue' });
    }
    const seed = sim.nodes[0]!.transport.address;
    let done = false;
    const joining = Promise.all(sim.nodes.slice(1).map((n) => n.cluster.join(seed))).finally(() => (done = true));
    while (!done) await sim.clock.advance(10);
    await joining;
    expect(await sim.runUntil(() => sim.converged(), 5_000)).toBe(true);
    // The documented procedure: install everywhere, then promote everywhere, then remove the old.
    for (const r of rings) r.install(k2);
    await sim.clock.advance(3_000);
    for (const r of rings) {
      r.use(k2);
      await sim.clock.advance(700); // nodes switch one by one while traffic flows
    }
    await sim.clock.advance(3_000);
    for (const r of rings) r.remove(k1);
    await sim.clock.advance(20_000);
    expect(sim.converged()).toBe(true);
    expect(sim.nodes.flatMap((n) => n.events.filter((e) => e.type === 'suspect' || e.type === 'dead'))).toEqual([]);
    expect(sim.totalCounter('grapevine.drop.unknown-key') + sim.totalCounter('grapevine.drop.auth-failed')).toBe(0);
    // A node that still holds only the old key is now shut out.
    const stale = await sim.addNode('stale', { encryption: encryption([k1]), compressor: snappyCompressor, label: 'blue', joinRetries: 0, joinTimeout: 500 });
    let settled = false;
    const attempt = stale.cluster.join(seed).then(() => 'joined', (e: { code?: string }) => e.code).finally(() => (settled = true));
    while (!settled) await sim.clock.advance(50);
    expect(await attempt).toBe('ERR_JOIN_FAILED');
    expect(sim.nodes[0]!.metrics.counter('grapevine.drop.unknown-key')).toBeGreaterThan(0);
    await sim.shutdown();
  }, 60_000);
});
