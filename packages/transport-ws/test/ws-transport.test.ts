import { once } from 'node:events';
import { request, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { Inbox, bytesEqual, patternBytes, patternSeed } from '@grapevine/testkit';
import { WsTransport, type WsTransportOptions } from '@grapevine/transport-ws';
import { INSTANCE_BYTES, KIND_RELIABLE, encodeHello } from '../src/frames.js';
import { appServer, closeServer, eventually, portOf } from './helpers.js';

const loopback = { host: '127.0.0.1', port: 0 };
const WAIT = 5000;

type Outcome = { ok: true } | { ok: false; code: unknown; message: string };

function outcome(p: Promise<unknown>): Promise<Outcome> {
  return p.then(
    () => ({ ok: true }) as const,
    (err: { code?: unknown; message?: string }) => ({ ok: false, code: err.code, message: String(err.message) }) as const,
  );
}

/** Status of a plain HTTP GET (optionally with extra headers) and its body. */
function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The HTTP status a WebSocket upgrade to `url` gets (101 when it is accepted). */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      req.destroy();
    });
    ws.on('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('error', (err) => reject(err));
  });
}

describe('WsTransport', () => {
  const transports: WsTransport[] = [];
  const servers: Server[] = [];
  const netServers: NetServer[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(transports.splice(0).map((t) => t.close()));
    await Promise.all(servers.splice(0).map(closeServer));
    await Promise.all(netServers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  async function started(options: Partial<WsTransportOptions> = {}): Promise<{ t: WsTransport; inbox: Inbox }> {
    const t = new WsTransport({ ...(options.server === undefined ? { listen: loopback } : {}), ...options });
    transports.push(t);
    const inbox = new Inbox();
    await t.start(inbox);
    return { t, inbox };
  }

  async function app(): Promise<Server> {
    const s = await appServer();
    servers.push(s);
    return s;
  }

  it('advertises ws://host:port/path, the advertise option, and an external address for a wildcard bind', async () => {
    const { t } = await started();
    expect(t.address).toBe(`ws://127.0.0.1:${t.bindPort}/grapevine`);
    expect(t.packetBudget).toBe(64 * 1024);
    const { t: adv } = await started({ advertise: 'wss://gossip.example.com/cluster' });
    expect(adv.address).toBe('wss://gossip.example.com/cluster');
    const { t: hp } = await started({ advertise: 'node1.example:7946', path: '/g' });
    expect(hp.address).toBe('ws://node1.example:7946/g');
    const { t: wild } = await started({ listen: { host: '0.0.0.0', port: 0 } });
    expect(wild.address).toMatch(new RegExp(`^ws://[^/]+:${wild.bindPort}/grapevine$`));
    expect(wild.address).not.toContain('0.0.0.0');
  });

  it('accepts "host:port" for the default path and reuses the inbound connection for replies', async () => {
    const { t: a, inbox: inboxA } = await started();
    const { t: b, inbox: inboxB } = await started();
    await a.sendReliable(`127.0.0.1:${b.bindPort}`, Uint8Array.of(1));
    await inboxB.waitForCount(1, WAIT);
    // b answers over the connection a opened: no dial of its own.
    await b.sendReliable(a.address, Uint8Array.of(2));
    b.sendPacket(a.address, Uint8Array.of(3));
    await inboxA.waitForCount(2, WAIT);
    expect(b.stats.connectionsOpened).toBe(0);
    expect(b.stats.connectionsAccepted).toBe(1);
    expect(a.stats.connectionsOpened).toBe(1);
    expect(a.connectionCount).toBe(1);
    expect(b.connectionCount).toBe(1);
    // `from` names the sender by its advertised address (host:port form by default).
    expect(inboxB.messages[0]?.from).toBe(`127.0.0.1:${a.bindPort}`);
    expect(inboxA.messages.map((m) => [m.from, m.reliable, m.data[0]])).toEqual([
      [`127.0.0.1:${b.bindPort}`, true, 2],
      [`127.0.0.1:${b.bindPort}`, false, 3],
    ]);
  });

  it('learns a peer\'s advertised URL from its hello, so another URL of the same peer shares the connection', async () => {
    // Dialed as 127.0.0.1, advertised as localhost.
    const server = await app();
    const advertised = `ws://localhost:${portOf(server)}/grapevine`;
    const { t: peer, inbox: inboxPeer } = await started({ server, advertise: advertised });
    const { t: a, inbox: inboxA } = await started();
    await a.sendReliable(`127.0.0.1:${portOf(server)}`, Uint8Array.of(1));
    await a.sendReliable(advertised, Uint8Array.of(2));
    await a.sendReliable(`ws://127.0.0.1:${portOf(server)}/grapevine`, Uint8Array.of(3));
    await inboxPeer.waitForCount(3, WAIT);
    expect(inboxPeer.messages.map((m) => m.data[0])).toEqual([1, 2, 3]);
    expect(a.stats.connectionsOpened).toBe(1);
    await peer.sendReliable(a.address, Uint8Array.of(4));
    await inboxA.waitForCount(1, WAIT);
    expect(inboxA.messages[0]?.from).toBe(`localhost:${portOf(server)}`);
    expect(peer.stats.connectionsOpened).toBe(0);
  });

  it('closes the least recently used connection to dial beyond maxConnections', async () => {
    const { t: client } = await started({ maxConnections: 1 });
    const first = await started();
    const second = await started();
    await client.sendReliable(first.t.address, Uint8Array.of(1));
    await client.sendReliable(second.t.address, Uint8Array.of(2));
    await Promise.all([first.inbox.waitForCount(1, WAIT), second.inbox.waitForCount(1, WAIT)]);
    await eventually(() => client.connectionCount === 1, WAIT, 'the evicted connection to close');
    await client.sendReliable(first.t.address, Uint8Array.of(3));
    await first.inbox.waitForCount(2, WAIT);
    expect(client.stats.connectionsOpened).toBe(3);
  });

  it('dials its own connection for replies with reuseInbound off', async () => {
    const { t: a, inbox: inboxA } = await started({ reuseInbound: false });
    const { t: b, inbox: inboxB } = await started({ reuseInbound: false });
    await a.sendReliable(b.address, Uint8Array.of(1));
    await inboxB.waitForCount(1, WAIT);
    await b.sendReliable(a.address, Uint8Array.of(2));
    await inboxA.waitForCount(1, WAIT);
    expect(b.stats.connectionsOpened).toBe(1);
    expect(a.connectionCount).toBe(2);
    expect(b.connectionCount).toBe(2);
  });

  it('holds sends to a peer whose connection to us is still saying hello, instead of dialing it', async () => {
    const { t: b } = await started();
    // Nothing listens at the claimed URL: a dial to it would fail the send.
    const claimed = 'ws://127.0.0.1:9/grapevine';
    const ws = new WebSocket(b.address, { headers: { 'x-grapevine-from': claimed } });
    const got: Buffer[] = [];
    ws.on('message', (d: Buffer) => got.push(d));
    await once(ws, 'open');
    await eventually(() => got.length === 1, WAIT, "b's hello");
    const sent = outcome(b.sendReliable(claimed, Uint8Array.of(5)));
    await new Promise((r) => setTimeout(r, 50));
    expect(b.stats.connectionsOpened).toBe(0);
    ws.send(encodeHello(claimed, Buffer.alloc(INSTANCE_BYTES, 1)));
    expect(await sent).toEqual({ ok: true });
    await eventually(() => got.length === 2, WAIT, 'the held message');
    expect(got[1]).toEqual(Buffer.from([KIND_RELIABLE, 5]));
    expect(b.stats.connectionsOpened).toBe(0);
    ws.terminate();
  });

  it('reports the advertised URL as `from` with fromFormat "url"', async () => {
    const { t: a } = await started();
    const { t: b, inbox } = await started({ fromFormat: 'url' });
    a.sendPacket(b.address, Uint8Array.of(9));
    await inbox.waitForCount(1, WAIT);
    expect(inbox.messages[0]?.from).toBe(a.address);
  });

  it('delivers to itself', async () => {
    const { t, inbox } = await started();
    await t.sendReliable(t.address, Uint8Array.of(7));
    await inbox.waitForCount(1, WAIT);
    expect(inbox.messages[0]?.from).toBe(`127.0.0.1:${t.bindPort}`);
  });

  describe('bearer token', () => {
    it('refuses a missing or wrong token with 401, counts it, and accepts the right one', async () => {
      const { t: server, inbox } = await started({ token: 's3cret-token' });
      const { t: noToken } = await started();
      const { t: wrong } = await started({ token: 'not-the-token' });
      const { t: right } = await started({ token: 's3cret-token' });

      const missing = await outcome(noToken.sendReliable(server.address, Uint8Array.of(1)));
      expect(missing).toMatchObject({ ok: false, code: 'ERR_UNAUTHORIZED' });
      expect(missing.ok ? '' : missing.message).toMatch(/401: the seed requires a bearer token and this node has none/);
      const bad = await outcome(wrong.sendReliable(server.address, Uint8Array.of(2)));
      expect(bad).toMatchObject({ ok: false, code: 'ERR_UNAUTHORIZED' });
      expect(bad.ok ? '' : bad.message).toMatch(/refused our bearer token/);
      expect(server.stats.authFailures).toBe(2);
      expect(await upgradeStatus(server.address, { Authorization: 'Bearer s3cret-tokeN' })).toBe(401);
      expect(await upgradeStatus(server.address, { Authorization: 'Basic czNjcmV0LXRva2Vu' })).toBe(401);
      expect(server.stats.authFailures).toBe(4);
      expect(inbox.messages).toHaveLength(0);

      await right.sendReliable(server.address, Uint8Array.of(3));
      await inbox.waitForCount(1, WAIT);
      expect([...inbox.messages[0]!.data]).toEqual([3]);
      expect(server.stats.authFailures).toBe(4);
    });

    it('rejects unusable tokens at construction', () => {
      expect(() => new WsTransport({ listen: loopback, token: '' })).toThrow(/token/);
      expect(() => new WsTransport({ listen: loopback, token: 'has space' })).toThrow(/token/);
    });
  });

  it('redials after the server side restarts on the same port and delivers again', async () => {
    const { t: client, inbox: clientInbox } = await started({ reconnectBaseDelay: 20, reconnectMaxDelay: 100 });
    const first = await started();
    const port = first.t.bindPort;
    const serverAddress = first.t.address;
    await client.sendReliable(serverAddress, Uint8Array.of(1));
    await first.inbox.waitForCount(1, WAIT);
    await first.t.close();

    // While nothing listens, sends fail fast (refused, then backing off) and never throw.
    const down = await outcome(client.sendReliable(serverAddress, Uint8Array.of(2)));
    expect(down).toMatchObject({ ok: false, code: 'ERR_UNREACHABLE' });
    expect(() => client.sendPacket(serverAddress, Uint8Array.of(3))).not.toThrow();

    const second = await started({ listen: { host: '127.0.0.1', port } });
    expect(second.t.address).toBe(serverAddress);
    await eventually(async () => (await outcome(client.sendReliable(serverAddress, Uint8Array.of(4)))).ok, WAIT, 'a send to the restarted server');
    await second.inbox.waitForCount(1, WAIT);
    expect([...second.inbox.messages[0]!.data]).toEqual([4]);
    expect(client.stats.reconnects).toBeGreaterThanOrEqual(1);
    // And the restarted side reaches the client over the new connection.
    await second.t.sendReliable(client.address, Uint8Array.of(5));
    await clientInbox.waitForCount(1, WAIT);
    expect(second.t.stats.connectionsOpened).toBe(0);
  });

  it('replaces a connection when a new instance of the peer connects under the same address', async () => {
    const { t: a, inbox: inboxA } = await started();
    const old = await started();
    await a.sendReliable(old.t.address, Uint8Array.of(1));
    await old.inbox.waitForCount(1, WAIT);
    // A "restarted" node claiming the old address (the old process never closed its socket).
    const fresh = await started({ advertise: old.t.address });
    await fresh.t.sendReliable(a.address, Uint8Array.of(2));
    await inboxA.waitForCount(1, WAIT);
    await a.sendReliable(old.t.address, Uint8Array.of(3));
    await fresh.inbox.waitForCount(1, WAIT);
    expect([...fresh.inbox.messages[0]!.data]).toEqual([3]);
    expect(old.inbox.messages).toHaveLength(1);
    expect(a.stats.duplicatesClosed).toBe(1);
  });

  it('settles a simultaneous dial from both sides on one connection, delivering everything both ways', async () => {
    let duplicates = 0;
    let superseded = 0;
    for (let round = 0; round < 8; round++) {
      const { t: a, inbox: inboxA } = await started();
      const { t: b, inbox: inboxB } = await started();
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) {
        sends.push(a.sendReliable(b.address, patternBytes(64, i)));
        sends.push(b.sendReliable(a.address, patternBytes(64, 1000 + i)));
        a.sendPacket(b.address, patternBytes(16, 5000 + i));
        b.sendPacket(a.address, patternBytes(16, 6000 + i));
      }
      await Promise.all(sends);
      await Promise.all([inboxA.waitForCount(100, WAIT), inboxB.waitForCount(100, WAIT)]);
      // Reliable messages arrive in the order they were sent, across the switch of connection.
      const reliableSeeds = (inbox: Inbox): number[] => inbox.messages.filter((m) => m.reliable).map((m) => patternSeed(m.data));
      expect(reliableSeeds(inboxB)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(reliableSeeds(inboxA)).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + i));
      await eventually(() => a.connectionCount === 1 && b.connectionCount === 1, WAIT, 'one connection per side');
      await a.sendReliable(b.address, Uint8Array.of(1, 2, 3));
      await b.sendReliable(a.address, Uint8Array.of(4, 5, 6));
      await Promise.all([inboxA.waitForCount(101, WAIT), inboxB.waitForCount(101, WAIT)]);
      expect(a.connectionCount).toBe(1);
      duplicates += a.stats.duplicatesClosed + b.stats.duplicatesClosed;
      superseded += a.stats.dialsSuperseded + b.stats.dialsSuperseded;
      await Promise.all([a.close(), b.close()]);
    }
    // The two dials did race: the side whose link loses the tie-break stopped its dial when the
    // peer's upgrade request arrived (or, had it completed, one connection was closed as a duplicate).
    expect(superseded).toBeGreaterThan(0);
    expect(duplicates).toBeLessThan(superseded);
  });

  describe('sizes', () => {
    it('refuses an oversized message at the sender with ERR_TOO_LARGE', async () => {
      const { t: a } = await started({ maxMessageBytes: 1024 });
      const { t: b } = await started();
      const result = await outcome(a.sendReliable(b.address, new Uint8Array(1025)));
      expect(result).toMatchObject({ ok: false, code: 'ERR_TOO_LARGE' });
      a.sendPacket(b.address, new Uint8Array(1025));
      await eventually(() => a.stats.sendErrors === 2, WAIT, 'the packet counted');
    });

    it('drops a connection that carries a message over the receiver limit, and keeps serving', async () => {
      const { t: big } = await started();
      const { t: small, inbox } = await started({ maxMessageBytes: 1024 });
      await big.sendReliable(small.address, new Uint8Array(4096));
      await eventually(() => big.connectionCount === 0, WAIT, 'the oversized connection to be dropped');
      expect(inbox.messages).toHaveLength(0);
      await big.sendReliable(small.address, patternBytes(1024, 1));
      await inbox.waitForCount(1, WAIT);
      expect(bytesEqual(inbox.messages[0]!.data, patternBytes(1024, 1))).toBe(true);
    });

    it('refuses sends beyond maxBufferedBytes to a peer that stopped reading (ERR_LIMIT, counted)', async () => {
      // A grapevine-speaking server that says hello and then never reads again.
      const stalled = await helloThenStall();
      netServers.push(stalled.server);
      const { t } = await started({ maxMessageBytes: 64 * 1024, maxBufferedBytes: 256 * 1024, closeTimeout: 200 });
      // The kernel's buffers take a few MB first; after that the connection's own buffer fills.
      let refusal: Outcome | undefined;
      for (let i = 0; i < 4000 && refusal === undefined; i++) {
        const result = await outcome(t.sendReliable(stalled.url, new Uint8Array(60 * 1024)));
        if (!result.ok) refusal = result;
        else await new Promise((r) => setImmediate(r));
      }
      expect(refusal).toMatchObject({ ok: false, code: 'ERR_LIMIT' });
      expect(t.stats.bufferOverflows).toBe(1);
      t.sendPacket(stalled.url, new Uint8Array(60 * 1024));
      await eventually(() => t.stats.bufferOverflows === 2, WAIT, 'the packet dropped and counted');
      expect(t.stats.packetsSent).toBe(0);
    });
  });

  describe('mounted on an existing http server', () => {
    it('leaves other requests and upgrades to the application', async () => {
      const server = await app();
      const port = portOf(server);
      const { t, inbox } = await started({ server, path: '/gossip' });
      expect(t.address).toBe(`ws://127.0.0.1:${port}/gossip`);
      // The application's own WebSocket endpoint on another path keeps working.
      const appWss = new WebSocketServer({ noServer: true });
      server.on('upgrade', (req, socket, head) => {
        if (req.url === '/chat') appWss.handleUpgrade(req, socket, head, (ws) => ws.send('welcome'));
      });
      try {
        expect(await httpGet(port, '/hello')).toEqual({ status: 200, body: 'app says hello to /hello' });
        expect(await httpGet(port, '/gossip')).toEqual({ status: 200, body: 'app says hello to /gossip' });
        const chat = new WebSocket(`ws://127.0.0.1:${port}/chat`);
        const [greeting] = (await once(chat, 'message')) as [Buffer];
        expect(greeting.toString()).toBe('welcome');
        chat.close();
        await once(chat, 'close');

        const { t: peer } = await started();
        await peer.sendReliable(t.address, Uint8Array.of(42));
        await inbox.waitForCount(1, WAIT);
      } finally {
        appWss.close();
      }
    });

    it('serves a non-WebSocket upgrade on another path as the plain request it would have been', async () => {
      const server = await app();
      await started({ server });
      expect(await httpGet(portOf(server), '/status', { Connection: 'Upgrade', Upgrade: 'h2c' })).toEqual({
        status: 200,
        body: 'app says hello to /status',
      });
    });

    it('stops answering on its path after close and leaves the server running', async () => {
      const server = await app();
      const { t } = await started({ server });
      const address = t.address;
      expect(server.listenerCount('upgrade')).toBe(1);
      await t.close();
      expect(server.listenerCount('upgrade')).toBe(0);
      expect(server.listening).toBe(true);
      const { t: peer } = await started({ handshakeTimeout: 1000 });
      expect(await outcome(peer.sendReliable(address, Uint8Array.of(1)))).toMatchObject({ ok: false, code: 'ERR_UNREACHABLE' });
    });

    it('needs a listening server or an advertise URL', async () => {
      const { createServer } = await import('node:http');
      const idle = createServer();
      const t = new WsTransport({ server: idle });
      transports.push(t);
      await expect(t.start(new Inbox())).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
      const advertised = new WsTransport({ server: idle, advertise: 'ws://10.0.0.1:8080/grapevine' });
      transports.push(advertised);
      await advertised.start(new Inbox());
      expect(advertised.address).toBe('ws://10.0.0.1:8080/grapevine');
    });
  });

  it('answers plain HTTP on its own listener with 426 on the path and 404 elsewhere', async () => {
    const { t } = await started();
    expect((await httpGet(t.bindPort, '/grapevine')).status).toBe(426);
    expect((await httpGet(t.bindPort, '/other')).status).toBe(404);
    expect(await upgradeStatus(`ws://127.0.0.1:${t.bindPort}/other`)).toBe(404);
  });

  it('refuses upgrades beyond maxConnections with 503 and counts them', async () => {
    const { t: server } = await started({ maxConnections: 1 });
    const { t: first } = await started();
    const { t: second } = await started();
    await first.sendReliable(server.address, Uint8Array.of(1));
    const refused = await outcome(second.sendReliable(server.address, Uint8Array.of(2)));
    expect(refused).toMatchObject({ ok: false, code: 'ERR_UNREACHABLE' });
    expect(refused.ok ? '' : refused.message).toMatch(/503/);
    expect(server.stats.connectionsRejected).toBe(1);
  });

  it('refuses upgrades from one IP beyond maxInboundPerPeer with 503, counts them, and frees the slot on close', async () => {
    // Loopback is exempt by default; these tests can only connect from loopback.
    const { t: server, inbox } = await started({ maxInboundPerPeer: 1, exemptLoopback: false });
    const { t: first } = await started();
    const { t: second } = await started({ reconnectBaseDelay: 0, reconnectMaxDelay: 0 });
    await first.sendReliable(server.address, Uint8Array.of(1));
    const refused = await outcome(second.sendReliable(server.address, Uint8Array.of(2)));
    expect(refused).toMatchObject({ ok: false, code: 'ERR_UNREACHABLE' });
    expect(refused.ok ? '' : refused.message).toMatch(/503/);
    expect(server.stats).toMatchObject({ connectionsRejected: 1, perPeerRejected: 1, connectionsAccepted: 1 });
    expect(await upgradeStatus(server.address)).toBe(503);
    expect(server.stats.perPeerRejected).toBe(2);
    // The first peer leaves; its slot is free again.
    await first.close();
    await eventually(() => server.connectionCount === 0, WAIT, 'the first connection to close');
    await second.sendReliable(server.address, Uint8Array.of(3));
    await inbox.waitForCount(2, WAIT);
    expect(server.stats).toMatchObject({ connectionsAccepted: 2, perPeerRejected: 2 });
  });

  it('does not cap loopback peers by default, and maxInboundPerPeer 0 turns the cap off', async () => {
    for (const options of [{ maxInboundPerPeer: 1 }, { maxInboundPerPeer: 0, exemptLoopback: false }]) {
      const { t: server, inbox } = await started(options);
      const peers = await Promise.all([started(), started(), started()]);
      await Promise.all(peers.map(({ t }, i) => t.sendReliable(server.address, Uint8Array.of(i))));
      await inbox.waitForCount(3, WAIT);
      expect(server.stats).toMatchObject({ connectionsAccepted: 3, connectionsRejected: 0, perPeerRejected: 0 });
    }
    expect(() => new WsTransport({ listen: loopback, maxInboundPerPeer: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });

  it('gives up on a WebSocket server that never says hello, within handshakeTimeout', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    try {
      const { t } = await started({ handshakeTimeout: 200 });
      const began = Date.now();
      const result = await outcome(t.sendReliable(`ws://127.0.0.1:${(wss.address() as { port: number }).port}/grapevine`, Uint8Array.of(1)));
      expect(result).toMatchObject({ ok: false, code: 'ERR_UNREACHABLE' });
      expect(Date.now() - began).toBeLessThan(2000);
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    }
  });

  it('terminates a connection whose peer stops answering pings', async () => {
    const { t, inbox } = await started({ pingInterval: 50, pingTimeout: 100 });
    const peer = new WebSocket(t.address, { autoPong: false });
    await once(peer, 'open');
    peer.on('message', () => undefined);
    peer.send(helloFrom('ws://127.0.0.1:1/grapevine'));
    peer.send(Buffer.from([1, 9]));
    await inbox.waitForCount(1, WAIT);
    const [code] = (await once(peer, 'close')) as [number];
    expect(code).toBe(1006);
    expect(t.stats.pingTimeouts).toBe(1);
    await eventually(() => t.connectionCount === 0, WAIT, 'the connection to be gone');
  });

  it('drops bad frames and counts them', async () => {
    const { t, inbox } = await started();
    const early = new WebSocket(t.address);
    await once(early, 'open');
    early.send(Buffer.from([1, 2, 3])); // data before hello: the connection goes
    await once(early, 'close');
    expect(t.stats.dropped).toBe(1);
    const peer = new WebSocket(t.address);
    await once(peer, 'open');
    peer.send(helloFrom('ws://127.0.0.1:1/grapevine'));
    peer.send('text is not grapevine');
    peer.send(Buffer.from([7, 1]));
    peer.send(Buffer.from([0, 5]));
    await inbox.waitForCount(1, WAIT);
    expect(t.stats.dropped).toBe(3);
    expect([...inbox.messages[0]!.data]).toEqual([5]);
    peer.terminate();
  });

  it('closes with a dial in flight: the send rejects ERR_CLOSED and close() returns', async () => {
    const blackhole = createNetServer((s) => sockets.push(s));
    netServers.push(blackhole);
    blackhole.listen(0, '127.0.0.1');
    await once(blackhole, 'listening');
    const { t } = await started();
    const pending = outcome(t.sendReliable(`127.0.0.1:${(blackhole.address() as { port: number }).port}`, Uint8Array.of(1)));
    await new Promise((r) => setTimeout(r, 50));
    await t.close();
    expect(await pending).toMatchObject({ ok: false, code: 'ERR_CLOSED' });
    expect(t.connectionCount).toBe(0);
  });

  it('frees its port on close', async () => {
    const { t } = await started();
    const port = t.bindPort;
    const { t: peer } = await started();
    await peer.sendReliable(t.address, Uint8Array.of(1));
    await t.close();
    const again = await started({ listen: { host: '127.0.0.1', port } });
    expect(again.t.bindPort).toBe(port);
  });

  it('validates options and addresses; sends before start fail softly', async () => {
    expect(() => new WsTransport({})).toThrow(/exactly one/);
    expect(() => new WsTransport({ listen: { host: '127.0.0.1', port: 70_000 } })).toThrow(/port/);
    expect(() => new WsTransport({ listen: loopback, path: 'no-slash' })).toThrow(/path/);
    expect(() => new WsTransport({ listen: loopback, packetBudget: 100 })).toThrow(/packetBudget/);
    expect(() => new WsTransport({ listen: loopback, maxMessageBytes: 1024, maxBufferedBytes: 1024 })).toThrow(/maxBufferedBytes/);
    expect(() => new WsTransport({ listen: loopback, advertise: 'http://x:1/' })).toThrow(/ws:\/\//);
    const t = new WsTransport({ listen: loopback });
    transports.push(t);
    expect(() => t.address).toThrow();
    expect(() => t.sendPacket('127.0.0.1:9', Uint8Array.of(1))).not.toThrow();
    await expect(t.sendReliable('127.0.0.1:9', Uint8Array.of(1))).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
    await t.start(new Inbox());
    for (const bad of ['http://127.0.0.1:1/', 'ws://user:pw@127.0.0.1:1/', 'ws://127.0.0.1:0/x', 'ws://127.0.0.1:1/#frag', 'ws://[::1/']) {
      await expect(t.sendReliable(bad, Uint8Array.of(1))).rejects.toMatchObject({ code: 'ERR_INVALID_ADDRESS' });
    }
    await t.close();
    await expect(t.start(new Inbox())).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});

/** A hello as a grapevine peer sends it: kind 2, version 1, 16-byte instance id, advertised URL. */
function helloFrom(url: string): Buffer {
  return Buffer.concat([Buffer.from([2, 1]), Buffer.alloc(16, 7), Buffer.from(url)]);
}

/** A WebSocket server at ws://127.0.0.1:PORT/grapevine that says hello, then stops reading its socket. */
async function helloThenStall(): Promise<{ server: NetServer; url: string }> {
  const wss = new WebSocketServer({ noServer: true });
  const { createServer } = await import('node:http');
  const http = createServer();
  http.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(helloFrom(`ws://127.0.0.1:${(http.address() as { port: number }).port}/grapevine`));
      (socket as Socket).pause();
      socket.on('error', () => undefined);
    });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as { port: number }).port;
  const close = http.close.bind(http);
  // Closing must also drop the stalled connection.
  (http as unknown as { close: (cb?: () => void) => void }).close = (cb) => {
    http.closeAllConnections();
    for (const c of wss.clients) c.terminate();
    return close(cb);
  };
  return { server: http, url: `ws://127.0.0.1:${port}/grapevine` };
}
