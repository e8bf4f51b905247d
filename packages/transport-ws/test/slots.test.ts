/**
 * Connections that hold a slot without ever being useful: links that say a valid hello and then
 * idle without their peer joining, and a table full of them when a real node arrives; and a flood
 * of refused upgrades (log lines).
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Cluster } from '@grapevine/core';
import { Inbox, LogRecorder } from '@grapevine/testkit';
import { WsTransport, type WsTransportOptions } from '@grapevine/transport-ws';
import { INSTANCE_BYTES, encodeHello } from '../src/frames.js';
import { eventually } from './helpers.js';

const loopback = { host: '127.0.0.1', port: 0 };
const WAIT = 10_000;

describe('WsTransport connection slots', () => {
  const transports: WsTransport[] = [];
  const clusters: Cluster[] = [];
  const clients: WebSocket[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((ws) => {
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      const closed = once(ws, 'close');
      ws.terminate();
      return closed;
    }));
    await Promise.all(clusters.splice(0).map((c) => c.close()));
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });

  function transport(options: Partial<WsTransportOptions> = {}): WsTransport {
    const t = new WsTransport({ listen: loopback, ...options });
    transports.push(t);
    return t;
  }

  async function node(name: string, options: Partial<WsTransportOptions> = {}): Promise<{ c: Cluster; t: WsTransport }> {
    const t = transport(options);
    const c = await Cluster.create({ name, transport: t, joinRetries: 1 });
    clusters.push(c);
    return { c, t };
  }

  /** A client that upgrades, says a valid hello naming a URL nobody has as a member, and then idles. */
  async function helloOnly(url: string, n: number): Promise<WebSocket> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    clients.push(ws);
    ws.on('error', () => undefined);
    await once(ws, 'open');
    ws.send(encodeHello(`ws://127.0.0.1:${10_000 + n}/grapevine`, randomBytes(INSTANCE_BYTES)));
    return ws;
  }

  it('closes links whose peer said hello but is not a member after memberTimeout, and keeps a member\'s', async () => {
    const { c: a, t } = await node('a', { memberTimeout: 300 });
    const { c: b } = await node('b', { memberTimeout: 300 });
    await b.join(a.localNode.address);
    const idlers = await Promise.all([0, 1, 2].map((i) => helloOnly(t.address, i)));
    await eventually(() => idlers.every((ws) => ws.readyState === WebSocket.CLOSED), WAIT, 'the hello-only links to close');
    expect(t.stats.notMemberClosed).toBe(3);
    // b's link outlived several checks: b is a member.
    await new Promise((r) => setTimeout(r, 700));
    expect(t.stats.notMemberClosed).toBe(3);
    expect(a.members({ state: 'alive' }).map((m) => m.name).sort()).toEqual(['a', 'b']);
  });

  it('lets a real node join when every slot is held by a hello-only link', async () => {
    // memberTimeout and idleTimeout off: what frees a slot is the eviction at maxConnections.
    const { c: a, t } = await node('a', { maxConnections: 4, memberTimeout: 0, idleTimeout: 0 });
    const idlers: WebSocket[] = [];
    for (let i = 0; i < 4; i++) idlers.push(await helloOnly(t.address, i));
    await eventually(() => t.connectionCount === 4 && t.stats.connectionsAccepted === 4, WAIT, 'four hello-only links');
    const { c: b } = await node('b');
    expect(await b.join(a.localNode.address)).toBe(1);
    await eventually(() => a.members({ state: 'alive' }).length === 2, WAIT, 'b to be a member of a');
    expect(t.stats.evicted).toBeGreaterThanOrEqual(1);
    await eventually(() => idlers[0]?.readyState === WebSocket.CLOSED, WAIT, 'the oldest idler to be evicted');
  });

  it('closes a link that carried no message for idleTimeout (without a cluster to ask)', async () => {
    const t = transport({ idleTimeout: 300 });
    await t.start(new Inbox());
    const ws = await helloOnly(t.address, 0);
    await eventually(() => ws.readyState === WebSocket.CLOSED, WAIT, 'the idle link to close');
    expect(t.stats.idleClosed).toBe(1);
  });

  it('writes a bounded number of lines for 2,000 refused upgrades', async () => {
    const logger = new LogRecorder();
    const t = transport({ token: 'right-token', logger });
    await t.start(new Inbox());
    const attempts = 2000;
    const request = [
      'GET /grapevine HTTP/1.1', 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade',
      'Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Authorization: Bearer wrong-token', '', '',
    ].join('\r\n');
    const refuse = async (): Promise<void> => {
      const socket: Socket = connect({ host: '127.0.0.1', port: t.bindPort });
      socket.on('error', () => undefined);
      socket.resume();
      await once(socket, 'connect');
      socket.write(request);
      await once(socket, 'close');
    };
    // 100 at a time: enough to be a flood, few enough not to exhaust the test's file descriptors.
    for (let i = 0; i < attempts; i += 100) await Promise.all(Array.from({ length: 100 }, refuse));
    expect(t.stats.authFailures).toBe(attempts);
    const lines = logger.matching('warn', 'bad bearer token');
    expect(lines.length).toBeLessThanOrEqual(2);
    await t.close();
    const total = logger.matching('warn', 'bad bearer token').reduce((n, l) => n + Number(l.obj.suppressed ?? 1), 0);
    expect(total).toBe(attempts);
  });
});
