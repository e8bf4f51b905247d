import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Inbox, transportConformance, withDeadline } from '@grapevine/testkit';
import { UdpTcpTransport } from '@grapevine/node';
import { UNSENDABLE, spyOnDnsLookup } from '../../../test-support/dns-spy.js';

transportConformance(
  'UdpTcpTransport',
  async () => ({
    a: new UdpTcpTransport({ bind: { host: '127.0.0.1', port: 0 } }),
    b: new UdpTcpTransport({ bind: { host: '127.0.0.1', port: 0 } }),
  }),
  { packetFromIsSenderAddress: true },
);

describe('UdpTcpTransport', () => {
  const open: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(t: T): T => {
    open.push(t);
    return t;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  it('binds UDP and TCP on one port number', async () => {
    const t = track(new UdpTcpTransport({ bind: '127.0.0.1:0' }));
    await t.start(new Inbox());
    const port = t.bindPort;
    expect(port).toBeGreaterThan(0);
    expect(t.address).toBe(`127.0.0.1:${port}`);
    expect(await udpBindError(port)).toBe('EADDRINUSE');
    expect(await tcpListenError(port)).toBe('EADDRINUSE');
  });

  it('frees both sockets on close', async () => {
    const t = new UdpTcpTransport({ bind: '127.0.0.1:0' });
    await t.start(new Inbox());
    const port = t.bindPort;
    await t.close();
    expect(await udpBindError(port)).toBeUndefined();
    expect(await tcpListenError(port)).toBeUndefined();
  });

  it('fails on a fixed port whose UDP half is taken, and releases the TCP half', async () => {
    // A UDP port whose TCP twin is free (other tests in parallel hold ports too).
    let blocker = await udpSocketOn(0);
    while ((await tcpListenError(blocker.address().port)) !== undefined) {
      const taken = blocker;
      blocker = await udpSocketOn(0);
      taken.close();
    }
    const port = blocker.address().port;
    try {
      const t = new UdpTcpTransport({ bind: { host: '127.0.0.1', port } });
      await expect(t.start(new Inbox())).rejects.toThrow(/EADDRINUSE/);
      expect(await tcpListenError(port)).toBeUndefined();
      await t.close();
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it('advertises the advertise address, and a reachable one for a wildcard bind', async () => {
    const adv = track(new UdpTcpTransport({ bind: '127.0.0.1:0', advertise: '10.1.2.3:7000' }));
    await adv.start(new Inbox());
    expect(adv.address).toBe('10.1.2.3:7000');
    const wild = track(new UdpTcpTransport({ bind: '0.0.0.0:0' }));
    await wild.start(new Inbox());
    expect(wild.address).not.toMatch(/^0\.0\.0\.0:/);
    expect(wild.address.endsWith(`:${wild.bindPort}`)).toBe(true);
  });

  it('sends packets over UDP and reliable messages over TCP, and counts both', async () => {
    const a = track(new UdpTcpTransport({ bind: '127.0.0.1:0' }));
    const b = track(new UdpTcpTransport({ bind: '127.0.0.1:0' }));
    const inbox = new Inbox();
    await a.start(new Inbox());
    await b.start(inbox);
    a.sendPacket(b.address, Uint8Array.of(1, 2, 3));
    await inbox.waitForCount(1, 5000);
    await a.sendReliable(b.address, Uint8Array.of(4, 5, 6));
    await inbox.waitForCount(2, 5000);
    expect(inbox.messages.map((m) => m.reliable)).toEqual([false, true]);
    expect(a.stats.packetsSent).toBe(1);
    expect(a.stats.reliableSent).toBe(1);
    expect(b.stats.packetsReceived).toBe(1);
    expect(b.stats.reliableReceived).toBe(1);
    expect(b.stats.connectionsAccepted).toBe(1);
    expect(a.packetBudget).toBe(1400);
  });

  it('passes inboundFilter to UDP (drops and counts)', async () => {
    let drop = true;
    const a = track(new UdpTcpTransport({ bind: '127.0.0.1:0' }));
    const b = track(new UdpTcpTransport({ bind: '127.0.0.1:0', inboundFilter: () => !drop }));
    const inbox = new Inbox();
    await a.start(new Inbox());
    await b.start(inbox);
    a.sendPacket(b.address, Uint8Array.of(1));
    await withDeadline(waitFor(() => b.stats.filtered === 1), 5000, 'the filtered packet');
    drop = false;
    a.sendPacket(b.address, Uint8Array.of(2));
    await inbox.waitForCount(1, 5000);
    expect([...inbox.messages[0]!.data]).toEqual([2]);
  });

  it('sends only to ip:port on both paths: names, port 0 and garbage are refused, counted, never looked up', async () => {
    const dns = spyOnDnsLookup();
    try {
      const a = track(new UdpTcpTransport({ bind: '127.0.0.1:0' }));
      const b = track(new UdpTcpTransport({ bind: '127.0.0.1:0' }));
      const inbox = new Inbox();
      await a.start(new Inbox());
      await b.start(inbox);
      for (const to of UNSENDABLE) a.sendPacket(to, Uint8Array.of(1));
      expect(a.stats).toMatchObject({ badAddress: UNSENDABLE.length, sendErrors: UNSENDABLE.length });
      for (const to of UNSENDABLE) {
        await expect(a.sendReliable(to, Uint8Array.of(2))).rejects.toMatchObject({ code: 'ERR_INVALID_ADDRESS' });
      }
      expect(a.stats).toMatchObject({ badAddress: 2 * UNSENDABLE.length, sendErrors: 2 * UNSENDABLE.length, connectionsOpened: 0, packetsSent: 0 });
      // Both paths still work to an IP literal.
      a.sendPacket(b.address, Uint8Array.of(3));
      await a.sendReliable(b.address, Uint8Array.of(4));
      await inbox.waitForCount(2, 5000);
      expect(dns.names()).toEqual([]);
    } finally {
      dns.restore();
    }
  });

  it('refuses a host name as advertise address at construction', () => {
    expect(() => new UdpTcpTransport({ bind: '127.0.0.1:0', advertise: 'node1.example:7946' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
  });

  it('passes maxInboundPerPeer and exemptLoopback to TCP, and reports per-peer refusals', async () => {
    expect(() => new UdpTcpTransport({ bind: '127.0.0.1:0', maxInboundPerPeer: -1 })).toThrow(/maxInboundPerPeer/);
    const t = track(new UdpTcpTransport({ bind: '127.0.0.1:0', maxInboundPerPeer: 1, exemptLoopback: false }));
    await t.start(new Inbox());
    const first = connect({ host: '127.0.0.1', port: t.bindPort });
    first.on('error', () => undefined);
    let second = first;
    try {
      await withDeadline(waitFor(() => t.stats.connectionsAccepted === 1), 5000, 'the first connection');
      second = connect({ host: '127.0.0.1', port: t.bindPort });
      second.on('error', () => undefined);
      await withDeadline(once(second, 'close'), 5000, 'the refused connection to close');
      expect(t.stats).toMatchObject({ connectionsAccepted: 1, connectionsRejected: 1, perPeerRejected: 1 });
    } finally {
      first.destroy();
      second.destroy();
    }
  });

  it('rejects bad options at construction and sends before start fail softly', async () => {
    expect(() => new UdpTcpTransport({ bind: { host: '127.0.0.1', port: 70_000 } })).toThrow(/port/);
    expect(() => new UdpTcpTransport({ bind: '127.0.0.1:0', packetBudget: 0 })).toThrow(/packetBudget/);
    expect(() => new UdpTcpTransport({ bind: '127.0.0.1:0', bindAttempts: 0 })).toThrow(/bindAttempts/);
    const t = new UdpTcpTransport({ bind: '127.0.0.1:0' });
    expect(() => t.sendPacket('127.0.0.1:9', Uint8Array.of(1))).not.toThrow();
    await expect(t.sendReliable('127.0.0.1:9', Uint8Array.of(1))).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
    expect(() => t.address).toThrow();
    await t.close();
    await expect(t.start(new Inbox())).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});

function udpSocketOn(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => resolve(s));
  });
}

/** The error code binding UDP on the port gives, or undefined when it binds (then it is closed). */
async function udpBindError(port: number): Promise<string | undefined> {
  try {
    const s = await udpSocketOn(port);
    await new Promise<void>((r) => s.close(() => r()));
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
}

function tcpListenError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(undefined)));
  });
}

async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}
