/**
 * Peers that send slowly on purpose: a large declared frame in 1-byte segments (memory before any
 * key is checked), a frame trickled forever (a connection slot held), a table full of such
 * connections when a real node arrives, and a flood of broken connections (log lines).
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Inbox, LogRecorder, bytesEqual, patternBytes, withDeadline } from '@grapevine/testkit';
import { MAX_BLOCK_BYTES, MIN_BLOCK_BYTES, TcpTransport, encodeFrameHeader, type TcpTransportOptions } from '@grapevine/transport-tcp';

const loopback = { host: '127.0.0.1', port: 0 };
const WAIT = 10_000;

function closeOf(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return withDeadline(once(socket, 'close').then(() => undefined), WAIT, 'the socket to close');
}

function write(socket: Socket, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
}

describe('TcpTransport against slow and broken peers', () => {
  const transports: TcpTransport[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => closeOf(s.destroy())));
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });

  async function started(options: Partial<TcpTransportOptions> = {}): Promise<{ t: TcpTransport; inbox: Inbox }> {
    const t = new TcpTransport({ bind: loopback, ...options });
    transports.push(t);
    const inbox = new Inbox();
    await t.start(inbox);
    return { t, inbox };
  }

  async function rawConnect(port: number): Promise<Socket> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    sockets.push(socket);
    socket.on('error', () => undefined); // resets by the server under test are expected
    await withDeadline(once(socket, 'connect'), WAIT, 'a raw connection');
    return socket;
  }

  it('holds a 1 MB frame sent one byte per segment in about the bytes received, not one buffer per segment', async () => {
    const { t, inbox } = await started({ maxFrameBytes: 2 * 1024 * 1024 });
    const raw = await rawConnect(t.bindPort);
    const size = 1024 * 1024;
    const body = patternBytes(size, 7);
    await write(raw, encodeFrameHeader(size));
    const trickled = 30_000;
    for (let i = 0; i < trickled; i++) {
      raw.write(body.subarray(i, i + 1));
      // One turn of the event loop per byte: the receiver reads each as a segment of its own.
      await nextTurn();
    }
    const received = 4 + trickled;
    await vi.waitFor(() => expect(t.partialFrameBytes).toBe(received), { timeout: WAIT });
    // Received bytes plus at most one unfilled block and the header buffer.
    expect(t.bufferedBytes).toBeLessThanOrEqual(received + MAX_BLOCK_BYTES + MIN_BLOCK_BYTES);
    expect(t.bufferedBytes).toBeGreaterThanOrEqual(received);
    // 4 KiB, 4 KiB, 8 KiB, 16 KiB: a handful of blocks, not ~30,000 segments.
    expect(t.bufferedChunks).toBeLessThanOrEqual(Math.ceil(received / MIN_BLOCK_BYTES));
    await write(raw, body.subarray(trickled));
    await inbox.waitForCount(1, WAIT);
    expect(bytesEqual(inbox.messages[0]?.data ?? new Uint8Array(), body)).toBe(true);
    expect(t.bufferedChunks).toBe(0);
  });

  it('closes a connection whose frame trickles in past frameTimeout, though a byte arrives well within readTimeout', async () => {
    const logger = new LogRecorder();
    const { t } = await started({ frameTimeout: 400, readTimeout: 10_000, logger });
    const raw = await rawConnect(t.bindPort);
    await write(raw, encodeFrameHeader(1000));
    const closed = closeOf(raw);
    let open = true;
    void closed.then(() => (open = false));
    for (let i = 0; i < 1000 && open; i++) {
      raw.write(Uint8Array.of(i & 0xff));
      await new Promise((r) => setTimeout(r, 50));
    }
    await closed;
    expect(t.stats).toMatchObject({ frameTimeouts: 1, dropped: 1 });
    expect(logger.matching('warn', 'frameTimeout')).toHaveLength(1);
  });

  it('lets a real node in when every slot is held by a connection trickling a frame', async () => {
    // Deadlines far away: what frees the slot is the eviction of an unproductive connection.
    const { t, inbox } = await started({ maxConnections: 4, frameTimeout: 60_000 });
    const tricklers: Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const raw = await rawConnect(t.bindPort);
      await write(raw, encodeFrameHeader(1_000_000));
      await write(raw, Uint8Array.of(1));
      tricklers.push(raw);
    }
    await vi.waitFor(() => expect(t.stats.connectionsAccepted).toBe(4), { timeout: WAIT });
    const { t: joiner } = await started();
    await joiner.sendReliable(t.address, patternBytes(50, 3));
    await inbox.waitForCount(1, WAIT);
    expect(t.stats.evicted).toBeGreaterThanOrEqual(1);
    // The oldest trickler went first.
    await closeOf(tricklers[0] as Socket);
    expect(t.connectionCount).toBeLessThanOrEqual(4);
  });

  it('writes a bounded number of lines for a flood of broken connections', async () => {
    const logger = new LogRecorder();
    const { t } = await started({ logger });
    const n = 200;
    const raws = await Promise.all(Array.from({ length: n }, () => rawConnect(t.bindPort)));
    await Promise.all(raws.map((raw) => write(raw, encodeFrameHeader(0)).catch(() => undefined)));
    await Promise.all(raws.map(closeOf));
    await vi.waitFor(() => expect(t.stats.dropped).toBe(n), { timeout: WAIT });
    expect(logger.lines.length).toBeLessThanOrEqual(2);
    expect(logger.matching('warn', 'bad frame length prefix')).toHaveLength(1);
    await t.close();
    // Closing writes the summary of what was suppressed.
    const summary = logger.matching('warn', 'more like it suppressed');
    expect(summary).toHaveLength(1);
    expect(summary[0]?.obj.suppressed).toBe(n - 1);
  });
});
