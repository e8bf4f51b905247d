import { describe, expect, it } from 'vitest';
import { GrapevineError } from '@grapevine/core';
import { MemoryNetwork, VirtualClock, type NetworkEvent } from '@grapevine/transport-memory';
import { bytes, setup } from './helpers.js';

describe('MemoryNetwork delivery', () => {
  it('delivers packets and reliable messages after the link delay, with the sender address', async () => {
    const { clock, inbox, node } = setup({ defaultDelay: 5 });
    const a = await node();
    const b = await node();
    a.sendPacket(b.address, bytes('p'));
    await a.sendReliable(b.address, bytes('r'));
    expect(inbox).toEqual([]);
    await clock.advance(4);
    expect(inbox).toEqual([]);
    await clock.advance(1);
    expect(inbox).toEqual([
      { at: 5, to: b.address, from: a.address, reliable: false, text: 'p' },
      { at: 5, to: b.address, from: a.address, reliable: true, text: 'r' },
    ]);
  });

  it('copies data at send', async () => {
    const { clock, inbox, node } = setup();
    const a = await node();
    const b = await node();
    const buf = bytes('aaaa');
    a.sendPacket(b.address, buf);
    await a.sendReliable(b.address, buf);
    buf.fill(0x7a);
    await clock.advance(1);
    expect(inbox.map((m) => m.text)).toEqual(['aaaa', 'aaaa']);
  });

  it('assigns unique host:port addresses and lets a closed address be reused (a restart)', async () => {
    const { net, node } = setup();
    const ts = await Promise.all(Array.from({ length: 300 }, () => node()));
    expect(ts[0]!.address).toBe('10.0.0.1:7946');
    expect(new Set(ts.map((t) => t.address)).size).toBe(300);
    expect(() => net.createTransport('10.0.0.1:7946')).toThrow(GrapevineError);
    await ts[0]!.crash();
    const again = net.createTransport('10.0.0.1:7946');
    expect(net.transport('10.0.0.1:7946')).toBe(again);
    expect(net.createTransport().address).not.toBe('10.0.0.1:7946');
  });

  it('a restart at an address gets what was in flight to it; the old transport keeps its own counts', async () => {
    const { clock, inbox, net, node } = setup({ defaultDelay: 5 });
    const a = await node();
    const b = await node();
    a.sendPacket(b.address, bytes('first'));
    await clock.advance(5);
    a.sendPacket(b.address, bytes('in flight'));
    await a.sendReliable(b.address, bytes('reliable in flight'));
    await b.crash();
    a.sendPacket(b.address, bytes('to nobody')); // refused at send: nothing is listening
    const b2 = await node(b.address);
    expect(net.transport(b.address)).toBe(b2);
    await clock.advance(5);
    expect(inbox.map((m) => `${m.text}@${m.at}`)).toEqual(['first@5', 'in flight@10', 'reliable in flight@10']);
    expect(inbox.at(-1)!.to).toBe(b2.address);
    expect(b.stats).toMatchObject({ packetsReceived: 1, reliableReceived: 0 });
    expect(b2.stats).toMatchObject({ packetsReceived: 1, reliableReceived: 1 });
    expect(net.stats).toMatchObject({ delivered: 3, unreachable: 1 });
    await b.close(); // closing the old transport again must not stop the new one
    a.sendPacket(b.address, bytes('after'));
    await clock.advance(5);
    expect(inbox.at(-1)!.text).toBe('after');
    expect({ ...b2.stats }).toMatchObject({ packetsReceived: 2 });
  });

  it('uses per-link delay and jitter, with wildcards', async () => {
    const { clock, inbox, net, node } = setup({ defaultDelay: 1 });
    const a = await node();
    const b = await node();
    const c = await node();
    net.setDelay('*', c.address, 50);
    net.setDelay(a.address, c.address, 20);
    a.sendPacket(b.address, bytes('ab'));
    a.sendPacket(c.address, bytes('ac'));
    b.sendPacket(c.address, bytes('bc'));
    await clock.advance(100);
    expect(inbox.map((m) => `${m.text}@${m.at}`)).toEqual(['ab@1', 'ac@20', 'bc@50']);
  });

  it('keeps reliable messages in order per peer despite jitter', async () => {
    const { clock, inbox, node } = setup({ jitter: 20 });
    const a = await node();
    const b = await node();
    for (let i = 0; i < 50; i++) await a.sendReliable(b.address, bytes(String(i)));
    for (let i = 0; i < 50; i++) a.sendPacket(b.address, bytes(`p${i}`));
    await clock.advance(100);
    const reliable = inbox.filter((m) => m.reliable).map((m) => m.text);
    expect(reliable).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    const packets = inbox.filter((m) => !m.reliable).map((m) => m.text);
    expect(packets).toHaveLength(50);
    expect(packets).not.toEqual(Array.from({ length: 50 }, (_, i) => `p${i}`)); // jitter reorders datagrams
  });

  it('guards the receiver and counts what it throws', async () => {
    const { clock, net } = setup();
    const a = net.createTransport();
    const b = net.createTransport();
    await a.start({ onMessage: () => undefined });
    await b.start({
      onMessage() {
        throw new Error('bad receiver');
      },
    });
    a.sendPacket(b.address, bytes('x'));
    await a.sendReliable(b.address, bytes('y'));
    await clock.advance(1);
    expect(b.stats.receiverErrors).toBe(2);
    expect(clock.errors).toBe(0);
  });

  it('keeps transport stats like a real transport', async () => {
    const { clock, node } = setup();
    const a = await node();
    const b = await node();
    a.sendPacket(b.address, bytes('12345'));
    a.sendPacket(b.address, bytes('123'));
    await a.sendReliable(b.address, bytes('1234567'));
    await a.sendReliable(b.address, bytes('1'));
    a.sendPacket('10.9.9.9:1', bytes('12')); // sent into the void: counted as sent, like UDP
    await clock.advance(1);
    expect(a.stats).toMatchObject({
      packetsSent: 3, packetBytesSent: 10, reliableSent: 2, reliableBytesSent: 8, connectionsOpened: 1, sendErrors: 0,
    });
    expect(b.stats).toMatchObject({ packetsReceived: 2, reliableReceived: 2 });
  });
});

describe('MemoryNetwork failures', () => {
  it('sendPacket never throws: unknown, unstarted, closed destinations and bad sizes are dropped and counted', async () => {
    const { clock, net, inbox, node } = setup();
    const a = await node();
    const idle = net.createTransport();
    const dead = await node();
    await dead.close();
    expect(() => a.sendPacket('nowhere:1', bytes('x'))).not.toThrow();
    a.sendPacket(idle.address, bytes('x'));
    a.sendPacket(dead.address, bytes('x'));
    a.sendPacket(a.address, new Uint8Array(70_000));
    idle.sendPacket(a.address, bytes('from unstarted'));
    dead.sendPacket(a.address, bytes('from closed'));
    await clock.advance(10);
    expect(inbox).toEqual([]);
    expect(net.stats.unreachable).toBe(3);
    expect(a.stats.sendErrors).toBe(1);
    expect(idle.stats.sendErrors + dead.stats.sendErrors).toBe(2);
  });

  it('drops messages in flight to a node that closes, and a closed node receives nothing', async () => {
    const { clock, net, inbox, node } = setup({ defaultDelay: 10 });
    const a = await node();
    const b = await node();
    a.sendPacket(b.address, bytes('x'));
    await a.sendReliable(b.address, bytes('y'));
    await clock.advance(5);
    void b.crash();
    await b.close(); // idempotent
    await clock.advance(10);
    expect(inbox).toEqual([]);
    expect(net.stats.unreachable).toBe(2);
  });

  it('sendReliable rejects ERR_UNREACHABLE after the link delay for unknown and closed peers', async () => {
    const { clock, node } = setup({ defaultDelay: 10 });
    const a = await node();
    const b = await node();
    await b.close();
    for (const to of [b.address, 'nowhere:1']) {
      let outcome: unknown;
      a.sendReliable(to, bytes('x')).then(
        () => (outcome = 'resolved'),
        (e: unknown) => (outcome = e),
      );
      await clock.advance(9);
      expect(outcome).toBeUndefined();
      await clock.advance(1);
      expect(outcome).toBeInstanceOf(GrapevineError);
      expect((outcome as GrapevineError).code).toBe('ERR_UNREACHABLE');
    }
    expect(a.stats.sendErrors).toBe(2);
  });

  it('sendReliable rejects ERR_TOO_LARGE, ERR_NOT_STARTED and ERR_CLOSED', async () => {
    const { net, node } = setup({ maxFrameBytes: 100 });
    const a = await node();
    const b = await node();
    await expect(a.sendReliable(b.address, new Uint8Array(101))).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' });
    await expect(net.createTransport().sendReliable(b.address, bytes('x'))).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
    await a.close();
    await expect(a.sendReliable(b.address, bytes('x'))).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(a.start({ onMessage: () => undefined })).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('partitions cut both paths both ways, including messages already in flight, until heal', async () => {
    const { clock, net, inbox, node } = setup({ defaultDelay: 10 });
    const [a, b, c, d] = await Promise.all([node(), node(), node(), node()]);
    a!.sendPacket(c!.address, bytes('in flight'));
    await clock.advance(5);
    net.partition([a!.address, b!.address], [c!.address, d!.address]);
    expect(net.reachable(a!.address, c!.address)).toBe(false);
    expect(net.reachable(a!.address, b!.address)).toBe(true);
    a!.sendPacket(c!.address, bytes('a>c'));
    d!.sendPacket(b!.address, bytes('d>b'));
    a!.sendPacket(b!.address, bytes('a>b'));
    c!.sendPacket(d!.address, bytes('c>d'));
    const refusals = [a!.sendReliable(d!.address, bytes('x')), c!.sendReliable(b!.address, bytes('y'))];
    const settled = Promise.allSettled(refusals);
    await clock.advance(20);
    for (const r of await settled) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'ERR_UNREACHABLE' } });
    expect(inbox.map((m) => m.text).sort()).toEqual(['a>b', 'c>d']);
    expect(net.stats.partitioned).toBe(5);

    net.heal();
    inbox.length = 0;
    a!.sendPacket(c!.address, bytes('a>c'));
    await d!.sendReliable(b!.address, bytes('d>b'));
    await clock.advance(10);
    expect(inbox.map((m) => m.text).sort()).toEqual(['a>c', 'd>b']);
  });

  it('one-way partitions and isolation', async () => {
    const { clock, net, inbox, node } = setup();
    const [a, b, c] = await Promise.all([node(), node(), node()]);
    net.partitionOneWay([a!.address], [b!.address]);
    a!.sendPacket(b!.address, bytes('a>b'));
    b!.sendPacket(a!.address, bytes('b>a'));
    await clock.advance(1);
    expect(inbox.map((m) => m.text)).toEqual(['b>a']);
    net.heal();
    net.isolate(c!.address);
    const late = await node(); // created after isolate: still cut off from c
    inbox.length = 0;
    c!.sendPacket(a!.address, bytes('c>a'));
    late.sendPacket(c!.address, bytes('late>c'));
    c!.sendPacket(c!.address, bytes('c>c')); // a node always reaches itself
    const refused = a!.sendReliable(c!.address, bytes('a>c')).catch((e: GrapevineError) => e.code);
    await clock.advance(1);
    expect(await refused).toBe('ERR_UNREACHABLE');
    expect(inbox.map((m) => m.text)).toEqual(['c>c']);
  });
});

describe('MemoryNetwork loss', () => {
  it('link loss is close to the configured rate over 10,000 packets', async () => {
    const { clock, net, inbox, node } = setup({ seed: 42 });
    const a = await node();
    const b = await node();
    net.setLoss(a.address, b.address, 0.2);
    for (let i = 0; i < 10_000; i++) a.sendPacket(b.address, bytes('x'));
    await clock.advance(1);
    // Binomial sd is 40 packets; 300 is over 7 sd.
    expect(Math.abs(inbox.length - 8000)).toBeLessThan(300);
    expect(net.stats.lost + net.stats.delivered).toBe(10_000);
  });

  it('inbound loss applies per destination; the reliable path is never lossy', async () => {
    const { clock, net, inbox, node } = setup({ seed: 7 });
    const a = await node();
    const b = await node();
    const c = await node();
    net.setInboundLoss(b.address, 0.5);
    net.setLoss('*', '*', 0.5);
    for (let i = 0; i < 10_000; i++) a.sendPacket(b.address, bytes('b'));
    for (let i = 0; i < 2_000; i++) await a.sendReliable(b.address, bytes('r'));
    for (let i = 0; i < 10_000; i++) a.sendPacket(c.address, bytes('c'));
    await clock.advance(1);
    const count = (text: string) => inbox.filter((m) => m.text === text).length;
    expect(Math.abs(count('b') - 2500)).toBeLessThan(250); // 0.5 link × 0.5 inbound
    expect(Math.abs(count('c') - 5000)).toBeLessThan(250);
    expect(count('r')).toBe(2000);
  });

  it('rejects probabilities outside [0, 1]', () => {
    const net = new MemoryNetwork({ clock: new VirtualClock(), seed: 1 });
    expect(() => net.setLoss('a', 'b', 1.5)).toThrow(GrapevineError);
    expect(() => net.setInboundLoss('a', -0.1)).toThrow(GrapevineError);
  });
});

describe('MemoryNetwork determinism', () => {
  /** A scripted run with loss, jitter and a partition; returns every network event. */
  async function trace(seed: number): Promise<string[]> {
    const events: NetworkEvent[] = [];
    const { clock, net, node } = setup({ seed, jitter: 7, defaultDelay: 2, onEvent: (e) => events.push(e) });
    const ts = await Promise.all(Array.from({ length: 10 }, () => node()));
    net.setLoss('*', '*', 0.3);
    net.setInboundLoss(ts[3]!.address, 0.2);
    for (let round = 0; round < 20; round++) {
      if (round === 8) net.partition([ts[0]!.address, ts[1]!.address], [ts[2]!.address]);
      if (round === 14) net.heal();
      for (const [i, t] of ts.entries()) {
        t.sendPacket(ts[(i * 3 + round) % 10]!.address, bytes(`${round}:${i}`));
        if (i % 3 === 0) t.sendReliable(ts[(i + round) % 10]!.address, bytes(`r${round}:${i}`)).catch(() => undefined);
      }
      await clock.advance(3);
    }
    await clock.advance(20);
    return events.map((e) => `${e.time} ${e.kind} ${e.from}>${e.to} ${e.reliable ? 'R' : 'P'}`);
  }

  it('the same seed replays the same trace; another seed does not', async () => {
    const first = await trace(1234);
    expect(first.length).toBeGreaterThan(200);
    expect(first.some((l) => l.includes(' lost '))).toBe(true);
    expect(first.some((l) => l.includes(' partitioned '))).toBe(true);
    expect(await trace(1234)).toEqual(first);
    expect(await trace(1235)).not.toEqual(first);
  });
});

describe('MemoryNetwork autoAdvance', () => {
  it('moves the virtual clock with real time until closed', async () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork({ clock, seed: 1, autoAdvance: { intervalMs: 1 } });
    const a = net.createTransport();
    const b = net.createTransport();
    const got = new Promise<string>((resolve) => {
      void b.start({ onMessage: (d, info) => resolve(`${new TextDecoder().decode(d)} from ${info.from}`) });
    });
    await a.start({ onMessage: () => undefined });
    a.sendPacket(b.address, bytes('hi'));
    expect(await got).toBe(`hi from ${a.address}`);
    await net.close();
    expect(a.closed && b.closed).toBe(true);
    const t = clock.now();
    await new Promise((r) => setTimeout(r, 20));
    expect(clock.now()).toBe(t);
  });
});
