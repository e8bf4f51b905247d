/**
 * One datagram that would blind failure detection: an outsider names 255 invented members at a
 * victim's address in one envelope, sent to one node of an unencrypted cluster. Then a real
 * member crashes. What must hold: the crash is detected by every member within the usual bounds
 * (the invented members never dilute probing, because they never become members), and what the
 * cluster sends the victim's address, counted on the memory network itself, stays below what the
 * outsider sent (not an amplifier) and within the introduction caps. A second test forges pings and
 * a push-pull that name the victim's address as their sender: the replies are held to the
 * unanswered-address budget, and no membership table is sent to the victim.
 */
import { describe, expect, it } from 'vitest';
import { minSuspicionTimeout, profiles, type Alive, type Ping, type PushPull } from '@grapevine/core';
import { Forger } from './forger.js';
import { Sim } from './harness.js';

const SEED = Number(process.env.GRAPEVINE_SIM_SEED ?? 42);
const VICTIM = '10.200.0.1:7946';

function victimCounter(): { onEvent: (e: { to: string; bytes: number; reliable: boolean }) => void; packets: number; bytes: number; reliable: number } {
  const c = {
    packets: 0, bytes: 0, reliable: 0,
    onEvent: (e: { to: string; bytes: number; reliable: boolean }) => {
      if (e.to !== VICTIM) return;
      c.packets++;
      c.bytes += e.bytes;
      if (e.reliable) c.reliable++;
    },
  };
  return c;
}

describe(`forged members at a victim's address (seed ${SEED})`, () => {
  it('255 invented members in one datagram: a real crash is still detected within the suspicion bound, and the victim gets less than the forger sent', async () => {
    const toVictim = victimCounter();
    const sim = new Sim({ seed: SEED + 70, onEvent: toVictim.onEvent });
    const n = 10;
    await sim.startCluster(n);
    expect(await sim.runUntil(() => sim.converged(), 10_000)).toBe(true);
    await sim.clock.advance(5_000);
    const forger = await new Forger(sim).start();
    const ghosts: Alive[] = Array.from({ length: 255 }, (_, i) => ({ k: 5, name: `ghost-${i}`, addr: VICTIM, inc: 0, inst: 1, metaVer: 0, meta: {} }));
    const target = sim.nodes[0]!;
    const pendingBefore = sim.nodes.map((o) => o.metrics.counter('grapevine.introductions.pending'));
    const sent = forger.packet(target.transport.address, ghosts);
    await sim.clock.advance(10_000);

    // The crash of a member every node has heard from.
    const crashed = sim.nodes[5]!;
    const crashedAt = sim.clock.now();
    await crashed.cluster.close();
    const others = sim.live();
    const allDead = (): boolean => others.every((o) => o.cluster.member(crashed.name)?.state === 'dead');
    expect(await sim.runUntil(allDead, 120_000, 20)).toBe(true);
    const cfg = others[0]!.cluster.config;
    const min = minSuspicionTimeout(cfg.suspicionMult, n, cfg.probeInterval);
    const suspects = others.flatMap((o) => o.events.filter((e) => e.type === 'suspect' && e.member.name === crashed.name));
    const deaths = others.flatMap((o) => o.events.filter((e) => e.type === 'dead' && e.member.name === crashed.name));
    const firstSuspect = Math.min(...suspects.map((e) => e.at));
    const lastDead = Math.max(...deaths.map((e) => e.at));
    // The same bounds as for a crash in a clean cluster (membership-sim.test.ts).
    expect(firstSuspect - crashedAt).toBeLessThanOrEqual(n * cfg.probeInterval);
    expect(lastDead - firstSuspect).toBeLessThanOrEqual(min + cfg.probeInterval);

    // The ghosts never became members anywhere, and were never relayed past the node they reached.
    for (const o of sim.nodes) expect(o.events.filter((e) => e.member.name.startsWith('ghost-'))).toEqual([]);
    expect(target.metrics.counter('grapevine.drop.introductions')).toBe(255 - cfg.introductionsPerSource);
    expect(target.metrics.counter('grapevine.introductions.failed')).toBe(cfg.introductionsPerSource);
    sim.nodes.slice(1).forEach((o, i) => expect(o.metrics.counter('grapevine.introductions.pending')).toBe(pendingBefore[i + 1]));

    // Let every timer the forgery could have started run out, then count what reached the victim.
    await sim.clock.advance(60_000);
    expect(toVictim.reliable).toBe(0);
    expect(toVictim.packets).toBe(cfg.introductionsPerSource * cfg.introductionAttempts);
    expect(toVictim.bytes).toBeLessThan(sent);
    await forger.close();
    await sim.shutdown();
  }, 120_000);

  it('forged pings and push-pulls naming the victim as sender: replies are held to the unanswered budget, and no table goes to the victim', async () => {
    const toVictim = victimCounter();
    const sim = new Sim({ seed: SEED + 71, onEvent: toVictim.onEvent });
    await sim.startCluster(5);
    expect(await sim.runUntil(() => sim.converged(), 10_000)).toBe(true);
    // Give the node something to piggyback: news that would ride every reply to a member.
    sim.nodes[2]!.cluster.updateMeta({ blob: 'x'.repeat(600) });
    const target = sim.nodes[0]!;
    const forger = await new Forger(sim).start();
    const cfg = target.cluster.config;
    // 40 datagrams of 50 pings each, all "from" the victim, within one budget window.
    for (let d = 0; d < 40; d++) {
      const pings: Ping[] = Array.from({ length: 50 }, (_, i) => ({ k: 1, seq: d * 50 + i + 1, target: target.name, from: 'ghost', fromAddr: VICTIM }));
      forger.packet(target.transport.address, pings);
      await sim.clock.advance(10);
    }
    await sim.clock.advance(100);
    expect(toVictim.packets).toBeGreaterThan(0);
    expect(toVictim.bytes).toBeLessThanOrEqual(cfg.unansweredBytesPerAddress);
    expect(target.metrics.counter('grapevine.send.unanswered-capped')).toBeGreaterThan(0);
    // A push-pull that names the victim as its sender: one verification ping at most (here none:
    // the budget is spent), never the table.
    const pp: PushPull = { k: 8, seq: 1, join: true, reply: false, from: 'ghost', fromAddr: VICTIM, states: [], proto: 1, app: '' };
    const reliableBefore = toVictim.reliable;
    await forger.reliable(target.transport.address, [pp]);
    await sim.clock.advance(cfg.unansweredWindow + 2 * cfg.probeInterval);
    await forger.reliable(target.transport.address, [pp]);
    await sim.clock.advance(2 * cfg.probeInterval);
    expect(toVictim.reliable).toBe(reliableBefore);
    expect(target.metrics.counter('grapevine.pushpull.unanswered')).toBe(2);
    expect(profiles.lan.unansweredBytesPerAddress).toBe(cfg.unansweredBytesPerAddress);
    await forger.close();
    await sim.shutdown();
  }, 60_000);
});
