import { createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseHostPort } from '@grapevine/core';
import { Inbox, bytesEqual, packetTransportConformance, patternBytes } from '@grapevine/testkit';
import { UdpTransport, type UdpTransportOptions } from '@grapevine/transport-udp';
import { UNSENDABLE, spyOnDnsLookup } from '../../../test-support/dns-spy.js';

const loopback = { host: '127.0.0.1', port: 0 };

packetTransportConformance(
  'UdpTransport',
  async () => ({ a: new UdpTransport({ bind: loopback }), b: new UdpTransport({ bind: loopback }) }),
  { packetFromIsSenderAddress: true },
);

describe('UdpTransport', () => {
  const opened: UdpTransport[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((t) => t.close()));
  });

  async function started(options: Partial<UdpTransportOptions> = {}): Promise<{ t: UdpTransport; inbox: Inbox }> {
    const t = new UdpTransport({ bind: loopback, ...options });
    opened.push(t);
    const inbox = new Inbox();
    await t.start(inbox);
    return { t, inbox };
  }

  it('reports the bound port and advertises the bound address', async () => {
    const { t } = await started();
    expect(t.bindPort).toBeGreaterThan(0);
    expect(t.address).toBe(`127.0.0.1:${t.bindPort}`);
  });

  it('advertises the advertise option when given', async () => {
    const { t } = await started({ advertise: '203.0.113.7:7946' });
    expect(t.address).toBe('203.0.113.7:7946');
  });

  it('advertises a concrete address when bound to the wildcard', async () => {
    const { t } = await started({ bind: { host: '0.0.0.0', port: 0 } });
    const { host, port } = parseHostPort(t.address);
    expect(port).toBe(t.bindPort);
    expect(host).not.toBe('0.0.0.0');
  });

  it('rejects start with a GrapevineError when the port is taken, keeping the errno error as cause', async () => {
    const { t } = await started();
    const second = new UdpTransport({ bind: { host: '127.0.0.1', port: t.bindPort } });
    opened.push(second);
    const err = await second.start(new Inbox()).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ name: 'GrapevineError', cause: { code: 'EADDRINUSE' } });
  });

  it('throws ERR_NOT_STARTED for the address before start', () => {
    const t = new UdpTransport({ bind: loopback });
    expect(() => t.address).toThrow(expect.objectContaining({ code: 'ERR_NOT_STARTED' }));
  });

  it('counts sends that cannot happen instead of throwing', async () => {
    const { t } = await started();
    t.sendPacket('nonsense', patternBytes(8, 1));
    t.sendPacket(t.address, new Uint8Array(0));
    t.sendPacket('127.0.0.1:0', patternBytes(8, 1));
    expect(t.stats.sendErrors).toBe(3);
    expect(t.stats.badAddress).toBe(2); // not the empty packet
    const unstarted = new UdpTransport({ bind: loopback });
    unstarted.sendPacket('127.0.0.1:9', patternBytes(8, 1));
    expect(unstarted.stats.sendErrors).toBe(1);
  });

  it('sends only to ip:port: names, port 0 and garbage are refused at once, counted, never looked up', async () => {
    const dns = spyOnDnsLookup();
    try {
      const a = await started();
      const b = await started();
      for (const to of UNSENDABLE) a.t.sendPacket(to, patternBytes(8, 1));
      // node:dgram would have asked dns.lookup synchronously inside send().
      expect(dns.names()).toEqual([]);
      // Counted before sendPacket returned: nothing was handed to the socket or the resolver.
      expect(a.t.stats).toMatchObject({ badAddress: UNSENDABLE.length, sendErrors: UNSENDABLE.length, packetsSent: 0 });
      // A second round hits the parse cache and is counted the same way.
      for (const to of UNSENDABLE) a.t.sendPacket(to, patternBytes(8, 1));
      expect(a.t.stats.badAddress).toBe(2 * UNSENDABLE.length);
      // The transport still sends to an IP literal, and the spy does see node:dgram's lookups:
      // that one went through it (answered locally, as Node answers IP literals).
      a.t.sendPacket(b.t.address, patternBytes(8, 2));
      await b.inbox.waitForCount(1, 5000);
      expect(dns.names()).toEqual([]);
      // Control: the same spy catches a name handed to node:dgram directly.
      const raw = createSocket('udp4');
      try {
        const err = await new Promise<Error | null>((resolve) => raw.send(Uint8Array.of(1), 9, 'control.invalid', resolve));
        expect(err).toMatchObject({ code: 'ENOTFOUND' });
        expect(dns.names()).toEqual(['control.invalid']);
      } finally {
        raw.close();
      }
    } finally {
      dns.restore();
    }
  });

  it('refuses to advertise a host name or port 0', () => {
    for (const advertise of ['node1.example:7946', 'localhost:7946', '203.0.113.7:0']) {
      expect(() => new UdpTransport({ bind: loopback, advertise })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
    }
    expect(() => new UdpTransport({ bind: loopback, advertise: '[2001:db8::1]:7946' })).not.toThrow();
  });

  it('counts packets and bytes both ways', async () => {
    const a = await started();
    const b = await started();
    a.t.sendPacket(b.t.address, patternBytes(100, 1));
    await b.inbox.waitForCount(1, 5000);
    await vi.waitFor(() => expect(a.t.stats.packetsSent).toBe(1));
    expect(a.t.stats.packetBytesSent).toBe(100);
    expect(b.t.stats.packetsReceived).toBe(1);
  });

  it('drops datagrams over maxPacketBytes and empty ones, delivering the rest', async () => {
    const { t, inbox } = await started({ maxPacketBytes: 100 });
    const raw = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
      const send = (data: Uint8Array): Promise<void> =>
        new Promise((resolve, reject) => raw.send(data, t.bindPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
      await send(patternBytes(101, 1));
      await send(new Uint8Array(0));
      await send(patternBytes(100, 2));
      await inbox.waitForCount(1, 5000);
      expect(bytesEqual(inbox.messages[0]?.data ?? new Uint8Array(), patternBytes(100, 2))).toBe(true);
      await vi.waitFor(() => expect(t.stats.dropped).toBe(2));
      expect(inbox.messages).toHaveLength(1);
    } finally {
      raw.close();
    }
  });

  it('drops what inboundFilter rejects before the receiver sees it', async () => {
    const seen: string[] = [];
    const b = await started({
      inboundFilter: (data, from) => {
        seen.push(from);
        return data[4] !== 0xff; // drop packets marked by the test
      },
    });
    const a = await started();
    const dropped = patternBytes(16, 1);
    dropped[4] = 0xff;
    const kept = patternBytes(16, 2);
    kept[4] = 0;
    a.t.sendPacket(b.t.address, dropped);
    a.t.sendPacket(b.t.address, kept);
    await b.inbox.waitForCount(1, 5000);
    await vi.waitFor(() => expect(b.t.stats.filtered).toBe(1));
    expect(b.inbox.messages).toHaveLength(1);
    expect(bytesEqual(b.inbox.messages[0]?.data ?? new Uint8Array(), kept)).toBe(true);
    expect(b.t.stats.packetsReceived).toBe(1);
    expect(seen).toContain(a.t.address);
  });

  const hasIPv6Loopback = Object.values(networkInterfaces()).some((list) =>
    (list ?? []).some((ni) => ni.family === 'IPv6' && ni.address === '::1'),
  );
  it.skipIf(!hasIPv6Loopback)('works over IPv6', async () => {
    const v6 = { bind: { host: '::1', port: 0 } };
    const a = await started(v6);
    const b = await started(v6);
    expect(a.t.address).toBe(`[::1]:${a.t.bindPort}`);
    a.t.sendPacket(b.t.address, patternBytes(32, 1));
    await b.inbox.waitForCount(1, 5000);
    expect(b.inbox.messages[0]?.from).toBe(a.t.address);
  });

  it('rejects bad options', () => {
    expect(() => new UdpTransport({ bind: { host: '127.0.0.1', port: 70000 } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => new UdpTransport({ bind: loopback, packetBudget: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => new UdpTransport({ bind: loopback, advertise: 'nope' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
  });

  it('start after close rejects with ERR_CLOSED', async () => {
    const t = new UdpTransport({ bind: loopback });
    await t.close();
    await expect(t.start(new Inbox())).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});
