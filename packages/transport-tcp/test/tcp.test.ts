import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Inbox, bytesEqual, patternBytes, transportConformance, withDeadline } from '@grapevine/testkit';
import { TcpTransport, encodeFrameHeader, type TcpTransportOptions } from '@grapevine/transport-tcp';
import { unresponsiveListener } from './unresponsive-listener.js';
import { UNSENDABLE, spyOnDnsLookup } from '../../../test-support/dns-spy.js';

const loopback = { host: '127.0.0.1', port: 0 };
const WAIT = 5000;

transportConformance('TcpTransport', async () => ({
  a: new TcpTransport({ bind: loopback }),
  b: new TcpTransport({ bind: loopback }),
}));

function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.byteLength);
  out.set(encodeFrameHeader(body.byteLength));
  out.set(body, 4);
  return out;
}

function closeOf(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return withDeadline(once(socket, 'close').then(() => undefined), WAIT, 'the socket to close');
}

function write(socket: Socket, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
}

describe('TcpTransport', () => {
  const transports: TcpTransport[] = [];
  const sockets: Socket[] = [];
  const servers: Server[] = [];
  const listeners: Array<{ close: () => Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => closeOf(s.destroy())));
    await Promise.all(transports.splice(0).map((t) => t.close()));
    await Promise.all(listeners.splice(0).map((l) => l.close()));
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  async function started(options: Partial<TcpTransportOptions> = {}): Promise<{ t: TcpTransport; inbox: Inbox }> {
    const t = new TcpTransport({ bind: loopback, ...options });
    transports.push(t);
    const inbox = new Inbox();
    await t.start(inbox);
    return { t, inbox };
  }

  async function rawConnect(port: number): Promise<Socket> {
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    socket.on('error', () => undefined); // resets by the server under test are expected
    await withDeadline(once(socket, 'connect'), WAIT, 'a raw connection');
    return socket;
  }

  it('reports the bound port and advertises the bound or configured address', async () => {
    const { t } = await started();
    expect(t.address).toBe(`127.0.0.1:${t.bindPort}`);
    expect(t.packetBudget).toBe(8 * 1024 * 1024);
    const { t: advertised } = await started({ advertise: '203.0.113.7:7946' });
    expect(advertised.address).toBe('203.0.113.7:7946');
  });

  it('refuses to advertise a host name or port 0: peers would never dial it', () => {
    for (const advertise of ['node1.example:7946', 'localhost:7946', '203.0.113.7:0']) {
      expect(() => new TcpTransport({ bind: loopback, advertise })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
    }
  });

  it('sendReliable refuses names, port 0 and garbage with ERR_INVALID_ADDRESS, before any socket or lookup', async () => {
    const dns = spyOnDnsLookup();
    try {
      const a = await started();
      for (const to of UNSENDABLE) {
        const sent = a.t.sendReliable(to, patternBytes(8, 1));
        // No connection is being opened for it, not even one waiting on a resolver.
        expect(a.t.connectionCount).toBe(0);
        // Settled before any I/O could have happened (a connect or a lookup needs a turn of the event loop).
        const first = await Promise.race([
          sent.then(() => 'sent', (e: unknown) => e),
          new Promise((resolve) => setImmediate(() => resolve('io'))),
        ]);
        expect(first).toMatchObject({ name: 'GrapevineError', code: 'ERR_INVALID_ADDRESS' });
      }
      expect(a.t.stats).toMatchObject({ badAddress: UNSENDABLE.length, sendErrors: UNSENDABLE.length, connectionsOpened: 0 });
      expect(dns.names()).toEqual([]);
      // Control: the spy does see what node:net asks the resolver.
      const raw = connect({ host: 'control.invalid', port: 9 });
      const [err] = (await once(raw, 'error')) as [NodeJS.ErrnoException];
      expect(err.code).toBe('ENOTFOUND');
      expect(dns.names()).toEqual(['control.invalid']);
    } finally {
      dns.restore();
    }
  });

  it('sendPacket to a name or port 0 is dropped and counted, and the transport keeps sending', async () => {
    const dns = spyOnDnsLookup();
    try {
      const a = await started();
      const b = await started();
      for (const to of UNSENDABLE) a.t.sendPacket(to, patternBytes(8, 1));
      a.t.sendPacket(b.t.address, patternBytes(8, 2));
      await b.inbox.waitForCount(1, WAIT);
      await vi.waitFor(() => expect(a.t.stats.badAddress).toBe(UNSENDABLE.length), { timeout: WAIT });
      expect(a.t.stats).toMatchObject({ sendErrors: UNSENDABLE.length, packetsSent: 1, connectionsOpened: 1 });
      expect(dns.names()).toEqual([]);
    } finally {
      dns.restore();
    }
  });

  it('rejects start with a GrapevineError when the port is taken, keeping the errno error as cause', async () => {
    const { t } = await started();
    const second = new TcpTransport({ bind: { host: '127.0.0.1', port: t.bindPort } });
    transports.push(second);
    const err = await second.start(new Inbox()).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ name: 'GrapevineError', cause: { code: 'EADDRINUSE' } });
  });

  it('drops a connection announcing an oversized frame and keeps serving the others', async () => {
    const { t, inbox } = await started();
    const bystander = await rawConnect(t.bindPort);
    const attacker = await rawConnect(t.bindPort);
    await write(attacker, new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    await closeOf(attacker);
    expect(t.stats.dropped).toBe(1);
    await write(bystander, frame(patternBytes(10, 1)));
    const { t: peer } = await started();
    await peer.sendReliable(t.address, patternBytes(20, 2));
    await inbox.waitForCount(2, WAIT);
    expect(bystander.closed).toBe(false);
  });

  it('drops a connection sending a zero length prefix', async () => {
    const { t, inbox } = await started();
    const raw = await rawConnect(t.bindPort);
    await write(raw, concat(frame(patternBytes(6, 1)), encodeFrameHeader(0)));
    await closeOf(raw);
    expect(t.stats.dropped).toBe(1);
    expect(inbox.messages).toHaveLength(1); // the frame before the bad prefix
  });

  it('drops a connection sending garbage', async () => {
    const { t, inbox } = await started();
    const raw = await rawConnect(t.bindPort);
    await write(raw, new TextEncoder().encode('GET / HTTP/1.1\r\nHost: example\r\n\r\n'));
    await closeOf(raw);
    expect(t.stats.dropped).toBe(1);
    expect(inbox.messages).toHaveLength(0);
  });

  it('reassembles a frame written one byte at a time', async () => {
    const { t, inbox } = await started();
    const raw = await rawConnect(t.bindPort);
    const body = patternBytes(64, 3);
    const bytes = frame(body);
    for (let i = 0; i < bytes.byteLength; i++) await write(raw, bytes.subarray(i, i + 1));
    await inbox.waitForCount(1, WAIT);
    expect(bytesEqual(inbox.messages[0]?.data ?? new Uint8Array(), body)).toBe(true);
    expect(inbox.messages[0]).toMatchObject({ from: `127.0.0.1:${raw.localPort}`, reliable: true });
  });

  it('closes a connection that stalls mid-frame after readTimeout', async () => {
    const { t, inbox } = await started({ readTimeout: 150 });
    const raw = await rawConnect(t.bindPort);
    const startedAt = Date.now();
    await write(raw, frame(patternBytes(10, 4)).subarray(0, 7));
    await closeOf(raw);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(100);
    expect(t.stats.dropped).toBe(1);
    expect(inbox.messages).toHaveLength(0);
  });

  it('opens one connection per peer, shared by concurrent and later sends', async () => {
    const a = await started();
    const b = await started();
    await Promise.all([a.t.sendReliable(b.t.address, patternBytes(8, 1)), a.t.sendReliable(b.t.address, patternBytes(8, 2))]);
    await a.t.sendReliable(b.t.address, patternBytes(8, 3));
    a.t.sendPacket(b.t.address, patternBytes(8, 4));
    await b.inbox.waitForCount(4, WAIT);
    expect(a.t.stats.connectionsOpened).toBe(1);
    expect(b.t.stats.connectionsAccepted).toBe(1);
    expect(a.t.stats).toMatchObject({ reliableSent: 3, reliableBytesSent: 24, packetsSent: 1, packetBytesSent: 8 });
    expect(b.t.stats.reliableReceived).toBe(4);
  });

  it('closes idle connections and reconnects on the next send', async () => {
    const a = await started({ idleTimeout: 100 });
    const b = await started({ idleTimeout: 100 });
    await a.t.sendReliable(b.t.address, patternBytes(8, 1));
    await b.inbox.waitForCount(1, WAIT);
    await vi.waitFor(() => expect(a.t.connectionCount + b.t.connectionCount).toBe(0), { timeout: WAIT });
    await a.t.sendReliable(b.t.address, patternBytes(8, 2));
    await b.inbox.waitForCount(2, WAIT);
    expect(a.t.stats.connectionsOpened).toBe(2);
  });

  it('delivers frames a peer sends back on our outbound connection', async () => {
    const { t, inbox } = await started();
    const reply = patternBytes(12, 5);
    const server = createServer((socket) => {
      socket.once('data', () => socket.write(frame(reply)));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await t.sendReliable(`127.0.0.1:${port}`, patternBytes(4, 6));
    await inbox.waitForCount(1, WAIT);
    expect(bytesEqual(inbox.messages[0]?.data ?? new Uint8Array(), reply)).toBe(true);
    expect(inbox.messages[0]).toMatchObject({ from: `127.0.0.1:${port}`, reliable: true });
  });

  it('refuses to send over maxFrameBytes or an empty message', async () => {
    const a = await started({ maxFrameBytes: 1024 });
    const b = await started();
    await expect(a.t.sendReliable(b.t.address, patternBytes(1025, 1))).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' });
    await expect(a.t.sendReliable(b.t.address, new Uint8Array(0))).rejects.toMatchObject({ code: 'ERR_LIMIT' });
    await a.t.sendReliable(b.t.address, patternBytes(1024, 2));
    await b.inbox.waitForCount(1, WAIT);
    expect(a.t.stats.sendErrors).toBe(2);
  });

  it('drops an inbound frame over its maxFrameBytes', async () => {
    const a = await started();
    const b = await started({ maxFrameBytes: 1024 });
    await a.t.sendReliable(b.t.address, patternBytes(2000, 1));
    await vi.waitFor(() => expect(a.t.connectionCount).toBe(0), { timeout: WAIT });
    expect(b.t.stats.dropped).toBe(1);
    await a.t.sendReliable(b.t.address, patternBytes(100, 2));
    await b.inbox.waitForCount(1, WAIT);
    expect(b.inbox.messages[0]?.data.byteLength).toBe(100);
  });

  it('refuses inbound connections beyond maxConnections when every connection is productive', async () => {
    const { t, inbox } = await started({ maxConnections: 1 });
    const first = await rawConnect(t.bindPort);
    await write(first, frame(patternBytes(5, 1)));
    await inbox.waitForCount(1, WAIT);
    const second = await rawConnect(t.bindPort);
    await closeOf(second);
    expect(t.stats).toMatchObject({ connectionsRejected: 1, evicted: 0 });
    await write(first, frame(patternBytes(5, 2)));
    await inbox.waitForCount(2, WAIT);
  });

  it('refuses inbound connections from one IP beyond maxInboundPerPeer, and frees the slot on close', async () => {
    // Loopback is exempt by default; these tests can only connect from loopback.
    const { t, inbox } = await started({ maxInboundPerPeer: 2, exemptLoopback: false });
    const first = await rawConnect(t.bindPort);
    const second = await rawConnect(t.bindPort);
    const third = await rawConnect(t.bindPort); // the kernel accepts; the transport closes it at once
    await closeOf(third);
    expect(t.stats).toMatchObject({ connectionsAccepted: 2, connectionsRejected: 1, perPeerRejected: 1 });
    // The two within the cap are untouched.
    await write(first, frame(patternBytes(5, 1)));
    await write(second, frame(patternBytes(5, 2)));
    await inbox.waitForCount(2, WAIT);
    // A closed connection gives its slot back.
    await closeOf(first.destroy());
    await vi.waitFor(() => expect(t.connectionCount).toBe(1), { timeout: WAIT });
    const fourth = await rawConnect(t.bindPort);
    await write(fourth, frame(patternBytes(5, 3)));
    await inbox.waitForCount(3, WAIT);
    expect(t.stats).toMatchObject({ connectionsAccepted: 3, perPeerRejected: 1 });
    // A transport's own pooled connection counts like any other peer's.
    const { t: peer } = await started();
    await peer.sendReliable(t.address, patternBytes(5, 4)).catch(() => undefined); // may or may not see the close in time
    await vi.waitFor(() => expect(t.stats.perPeerRejected).toBe(2), { timeout: WAIT });
    expect(inbox.messages).toHaveLength(3);
  });

  it('does not cap loopback peers by default, and maxInboundPerPeer 0 turns the cap off', async () => {
    const exempt = await started({ maxInboundPerPeer: 1 });
    const off = await started({ maxInboundPerPeer: 0, exemptLoopback: false });
    for (const { t, inbox } of [exempt, off]) {
      const raws = [await rawConnect(t.bindPort), await rawConnect(t.bindPort), await rawConnect(t.bindPort)];
      for (const [i, raw] of raws.entries()) await write(raw, frame(patternBytes(5, i)));
      await inbox.waitForCount(3, WAIT);
      expect(t.stats).toMatchObject({ connectionsAccepted: 3, connectionsRejected: 0, perPeerRejected: 0 });
    }
    expect(() => new TcpTransport({ bind: loopback, maxInboundPerPeer: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => new TcpTransport({ bind: loopback, maxInboundPerPeer: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });

  it('rejects with ERR_UNREACHABLE when a connection cannot be made in connectTimeout', async () => {
    const listener = await unresponsiveListener();
    listeners.push(listener);
    const { t } = await started({ connectTimeout: 200 });
    const startedAt = Date.now();
    const err = await t.sendReliable(listener.address, patternBytes(8, 1)).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_UNREACHABLE', message: expect.stringContaining('200 ms') });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(150);
    expect(t.stats.sendErrors).toBe(1);
  });

  it('counts failed packet sends instead of throwing', async () => {
    const a = await started();
    const b = await started();
    const gone = b.t.address;
    await b.t.close();
    a.t.sendPacket(gone, patternBytes(8, 1));
    a.t.sendPacket('not an address', patternBytes(8, 1));
    await vi.waitFor(() => expect(a.t.stats.sendErrors).toBe(2), { timeout: WAIT });
  });

  it('rejects pending connects with ERR_CLOSED on close', async () => {
    const listener = await unresponsiveListener();
    listeners.push(listener);
    const { t } = await started({ connectTimeout: 5000 });
    const pending = t.sendReliable(listener.address, patternBytes(8, 1));
    await t.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('destroys an idle connection whose peer never finishes closing', async () => {
    const { t } = await started({ idleTimeout: 50, readTimeout: 150 });
    let endedAt = 0;
    // allowHalfOpen: the raw peer takes our FIN but never sends its own.
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.push(socket);
      socket.on('end', () => (endedAt = Date.now()));
      socket.resume();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await t.sendReliable(`127.0.0.1:${port}`, patternBytes(8, 1));
    await vi.waitFor(() => expect(endedAt).toBeGreaterThan(0), { timeout: WAIT });
    expect(t.connectionCount).toBe(1); // ending, not yet gone
    await vi.waitFor(() => expect(t.connectionCount).toBe(0), { timeout: WAIT });
    expect(Date.now() - endedAt).toBeGreaterThanOrEqual(100);
  });

  it('evicts the least recently used outbound connection at maxConnections', async () => {
    const a = await started({ maxConnections: 1 });
    const b = await started();
    const c = await started();
    await a.t.sendReliable(b.t.address, patternBytes(8, 1));
    await a.t.sendReliable(c.t.address, patternBytes(8, 2));
    await vi.waitFor(() => expect(b.t.connectionCount).toBe(0), { timeout: WAIT });
    expect(a.t.connectionCount).toBe(1);
    await a.t.sendReliable(b.t.address, patternBytes(8, 3));
    await Promise.all([b.inbox.waitForCount(2, WAIT), c.inbox.waitForCount(1, WAIT)]);
    expect(a.t.stats.connectionsOpened).toBe(3);
  });

  const hasIPv6Loopback = Object.values(networkInterfaces()).some((list) =>
    (list ?? []).some((ni) => ni.family === 'IPv6' && ni.address === '::1'),
  );
  it.skipIf(!hasIPv6Loopback)('works over IPv6', async () => {
    const v6 = { bind: { host: '::1', port: 0 } };
    const a = await started(v6);
    const b = await started(v6);
    expect(b.t.address).toBe(`[::1]:${b.t.bindPort}`);
    await a.t.sendReliable(b.t.address, patternBytes(32, 1));
    await b.inbox.waitForCount(1, WAIT);
    expect(b.inbox.messages[0]?.from).toMatch(/^\[::1\]:\d+$/);
  });

  it('leaves no sockets or servers open after close', async () => {
    const tcpHandles = (): number => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
    const before = tcpHandles();
    const a = await started();
    const b = await started();
    await a.t.sendReliable(b.t.address, patternBytes(8, 1));
    await b.t.sendReliable(a.t.address, patternBytes(8, 1));
    await Promise.all([a.inbox.waitForCount(1, WAIT), b.inbox.waitForCount(1, WAIT)]);
    expect(tcpHandles()).toBeGreaterThan(before);
    await Promise.all([a.t.close(), b.t.close()]);
    expect(tcpHandles()).toBe(before);
  });
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}
