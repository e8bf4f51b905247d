/**
 * The bounds on `GET /v1/events` clients: a real agent (the built CLI) answers 503 past its client
 * cap, and the in-process HTTP API disconnects a client that stops reading once its unsent output
 * passes the buffer bound, while a client that reads keeps its stream.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster, MemberEvent } from '@grapevine/node';
import { startHttpApi, type HttpApi } from '@grapevine/agent';
import { agentFixture, httpGet } from './cli-harness.js';

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw HTTP/1.1 GET /v1/events; `read: false` never reads the answer (the socket stays paused). */
function rawEventClient(port: number, read: boolean): { socket: Socket; status: Promise<number>; received: () => number } {
  const socket = connect({ host: '127.0.0.1', port });
  let received = 0;
  let head = '';
  const status = new Promise<number>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0)));
    const onData = (d: Buffer): void => {
      received += d.length;
      if (head.length < 64) head += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (m) resolve(Number(m[1]));
      if (!read) {
        socket.off('data', onData);
        socket.pause();
      }
    };
    socket.on('data', onData);
  });
  socket.write(`GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return { socket, status, received: () => received };
}

describe('GET /v1/events client cap (real agent)', () => {
  const fx = agentFixture('gv-sse-cap-');

  it('answers 503 with a JSON body past --http-max-event-clients, counts it, and serves clients again once some leave', async () => {
    const cap = 100;
    const a = fx.startAgent('cap', ['--http', '127.0.0.1:0', '--http-max-event-clients', String(cap)]);
    const http = (await a.waitReady()).http!;
    const port = Number(http.split(':').pop());
    const clients = Array.from({ length: 300 }, () => rawEventClient(port, true));
    try {
      const statuses = await Promise.all(clients.map((c) => c.status));
      expect(statuses.filter((s) => s === 200)).toHaveLength(cap);
      expect(statuses.filter((s) => s === 503)).toHaveLength(300 - cap);
      const refused = await httpGet(`http://${http}/v1/events`);
      expect(refused.status).toBe(503);
      expect(refused.type).toMatch(/application\/json/);
      expect(JSON.parse(refused.body)).toEqual({ error: 'too many event-stream clients', code: 'ERR_TOO_MANY_STREAMS', limit: cap });
      const metrics = (await httpGet(`http://${http}/metrics`)).body;
      expect(metrics).toMatch(/^grapevine_http_event_clients 100$/m);
      expect(metrics).toMatch(/^grapevine_http_event_clients_refused_total 201$/m);
      // Slots come back when clients go away.
      for (const c of clients) c.socket.destroy();
      let again = 0;
      for (let i = 0; i < 150 && again !== 200; i++) { // up to 15 s: the server sees the closes when the loaded machine lets it
        const c = rawEventClient(port, true);
        again = await c.status;
        c.socket.destroy();
        if (again !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(again).toBe(200);
    } finally {
      for (const c of clients) c.socket.destroy();
    }
  }, 60_000);

  it('the default cap is 256', async () => {
    const a = fx.startAgent('default-cap', ['--http', '127.0.0.1:0']);
    const port = Number((await a.waitReady()).http!.split(':').pop());
    const clients = Array.from({ length: 300 }, () => rawEventClient(port, true));
    try {
      const statuses = await Promise.all(clients.map((c) => c.status));
      expect(statuses.filter((s) => s === 200)).toHaveLength(256);
      expect(statuses.filter((s) => s === 503)).toHaveLength(44);
    } finally {
      for (const c of clients) c.socket.destroy();
    }
  }, 60_000);
});

describe('GET /v1/events client that stops reading', () => {
  let api: HttpApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('is disconnected once its unsent output passes maxEventBufferBytes (counted); a reading client stays', async () => {
    // The events' source: an object with the Cluster surface the event stream uses, so the test can
    // emit megabytes of events quickly; the HTTP server and sockets are real.
    const listeners = new Set<(ev: MemberEvent) => void>();
    const source = {
      name: 'self',
      closed: false,
      on(type: string, fn: (ev: MemberEvent) => void) {
        expect(type).toBe('change');
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
    } as unknown as Cluster;
    const bound = 256 * 1024;
    api = await startHttpApi(source, { bind: '127.0.0.1:0', maxEventBufferBytes: bound });
    // The API listens once (the event ring, the metrics), not once per client.
    const baseline = listeners.size;
    const stalled = rawEventClient(api.port, false);
    const reader = rawEventClient(api.port, true);
    expect(await stalled.status).toBe(200);
    expect(await reader.status).toBe(200);
    await until(() => api!.eventStreams.open === 2, 'two open streams');

    const big = 'x'.repeat(16 * 1024);
    const event = (i: number): MemberEvent =>
      ({ type: 'updated', at: 0, member: { name: `m${i}`, address: '127.0.0.1:1', state: 'alive', incarnation: i, meta: { big } } }) as unknown as MemberEvent;
    // Emit until the kernel's socket buffers are full and Node starts queuing for the stalled client.
    let sent = 0;
    for (let i = 0; api.eventStreams.dropped === 0 && i < 20_000; i++) {
      for (const fn of [...listeners]) fn(event(i));
      sent += big.length;
      await new Promise((r) => setImmediate(r)); // let the reader drain
    }
    expect(api.eventStreams.dropped).toBe(1);
    await until(() => api!.eventStreams.open === 1, 'the stalled stream closed');
    // The reader kept its stream and keeps receiving.
    const before = reader.received();
    for (const fn of [...listeners]) fn(event(0));
    await until(() => reader.received() > before, 'the reader gets the next event');
    expect(listeners.size).toBe(baseline); // clients never add cluster listeners
    expect(sent).toBeGreaterThan(bound);
    stalled.socket.destroy();
    reader.socket.destroy();
  }, 60_000);
});
