import { describe, expect, it } from 'vitest';
import { MemoryNetwork, Stall, VirtualClock } from '@grapevine/transport-memory';
import { bytes } from './helpers.js';

describe('Stall (a paused or CPU-starved node)', () => {
  it('runs timers that come due during a stall at its end, and cancelled ones never', async () => {
    const clock = new VirtualClock({ start: 0 });
    const s = new Stall(clock);
    const ran: [string, number][] = [];
    s.clock.setTimer(() => ran.push(['a', clock.now()]), 10);
    const b = s.clock.setTimer(() => ran.push(['b', clock.now()]), 20);
    s.clock.setTimer(() => ran.push(['c', clock.now()]), 200);
    s.stall(100);
    await clock.advance(50);
    b.cancel();
    expect(ran).toEqual([]);
    await clock.advance(60);
    expect(ran).toEqual([['a', 100]]);
    await clock.advance(100);
    expect(ran).toEqual([['a', 100], ['c', 200]]);
    expect(s.stats).toMatchObject({ stalls: 1, lateTimers: 2 });
  });

  it('holds reliable messages and up to packetBuffer packets while stalled, drops the rest, delivers in order', async () => {
    const clock = new VirtualClock({ start: 0 });
    const net = new MemoryNetwork({ clock, seed: 1 });
    const s = new Stall(clock, { packetBuffer: 2 });
    const a = net.createTransport();
    await a.start({ onMessage: () => undefined });
    const inner = net.createTransport();
    const b = s.wrap(inner);
    const got: [string, boolean, number][] = [];
    const dec = new TextDecoder();
    await b.start({ onMessage: (d, info) => got.push([dec.decode(d), info.reliable, clock.now()]) });
    expect(b.address).toBe(inner.address);
    s.stall(50);
    for (const t of ['p1', 'p2', 'p3']) a.sendPacket(b.address, bytes(t));
    await a.sendReliable(b.address, bytes('r1'));
    await clock.advance(10);
    expect(got).toEqual([]);
    await clock.advance(40);
    expect(got).toEqual([['p1', false, 50], ['p2', false, 50], ['r1', true, 50]]);
    expect(s.stats).toMatchObject({ heldMessages: 3, droppedPackets: 1 });
    a.sendPacket(b.address, bytes('p4'));
    await clock.advance(1);
    expect(got.at(-1)).toEqual(['p4', false, 51]);
    await net.close();
  });

  it('starve() pauses the node for stallMs out of every everyMs, for forMs', async () => {
    const clock = new VirtualClock({ start: 0 });
    const s = new Stall(clock);
    let paused = 0;
    s.starve(30, 100, 1000);
    for (let t = 0; t < 1200; t += 10) {
      if (s.stalled) paused += 10;
      await clock.advance(10);
    }
    expect(paused).toBe(300);
    expect(s.stats.stalls).toBe(10);
  });
});
