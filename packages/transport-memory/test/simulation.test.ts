import { describe, expect, it } from 'vitest';
import { randomInt, seededRandom, type TimerHandle } from '@grapevine/core';
import { MemoryNetwork, VirtualClock } from '@grapevine/transport-memory';

/**
 * A toy push-gossip cluster shaped like a Grapevine run: every node ticks every 200 ms, sends a
 * packet to 3 random peers, and re-arms a timeout it usually cancels. One rumour starts at node 0.
 * Checks the pieces compose at scale and replay from the seed.
 */
async function gossip(seed: number, nodes: number, seconds: number) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, seed, defaultDelay: 2, jitter: 3 });
  net.setLoss('*', '*', 0.1);
  const rng = seededRandom(seed + 1);
  const infectedAt = new Array<number | undefined>(nodes).fill(undefined);
  const ts = Array.from({ length: nodes }, () => net.createTransport());
  for (const [i, t] of ts.entries()) {
    let timeout: TimerHandle | undefined;
    await t.start({
      onMessage(data) {
        timeout?.cancel();
        if (data[0] === 1 && infectedAt[i] === undefined) infectedAt[i] = clock.now();
      },
    });
    const tick = () => {
      const payload = new Uint8Array([infectedAt[i] === undefined ? 0 : 1]);
      for (let k = 0; k < 3; k++) t.sendPacket(ts[randomInt(rng, nodes)]!.address, payload);
      timeout = clock.setTimer(() => undefined, 100);
      clock.setTimer(tick, 200);
    };
    clock.setTimer(tick, randomInt(rng, 200));
  }
  infectedAt[0] = clock.now();
  const start = clock.now();
  const allInfected = await clock.runUntil(() => infectedAt.every((t) => t !== undefined), { timeout: seconds * 1000 });
  const spreadMs = clock.now() - start;
  await clock.advance(start + seconds * 1000 - clock.now());
  await net.close();
  return { allInfected, spreadMs, stats: { ...net.stats }, fired: clock.fired };
}

describe('simulation at scale', () => {
  it('200 nodes for 10 simulated seconds, replayable from the seed', async () => {
    const a = await gossip(99, 200, 10);
    expect(a.allInfected).toBe(true);
    expect(a.stats.delivered).toBeGreaterThan(200 * 3 * 45 * 0.85);
    expect(await gossip(99, 200, 10)).toEqual(a);
  });
});
