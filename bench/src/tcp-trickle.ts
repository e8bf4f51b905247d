/**
 * What a peer that sends a large declared frame in tiny segments costs a TCP receiver, before any
 * key is checked. A real TcpTransport listens in this process; a child process (this script with
 * `--client`) opens `--conns` connections to it, announces a frame of `--declared` bytes on each and
 * then sends `--bytes` of its body per connection in segments of `--segment` bytes, one segment per
 * connection per event-loop turn (so the receiver reads each as a read of its own). The receiver's
 * RSS is sampled before the connections open and once every byte arrived (after a GC, when run
 * with --expose-gc), beside the transport's own count of what it holds for partial frames.
 *
 *   node --expose-gc bench/dist/tcp-trickle.js [--conns 8] [--bytes 250000] [--segment 1] [--declared 8388608]
 *
 * Prints one JSON line: bytes sent, RSS and heap before/after, the growth per byte received, and
 * the transport's bufferedBytes / bufferedChunks. frameTimeout and readTimeout are raised to 10
 * minutes here, so that the deadlines (which would close these connections) do not end the run.
 */
import { fork } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TcpTransport } from '@grapevine/node';
import { encodeFrameHeader } from '@grapevine/transport-tcp';
import { emit, r1, r3, waitUntil } from './util.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isInteger(v) && v > 0 ? v : fallback;
};
const conns = arg('--conns', 8);
const bytes = arg('--bytes', 250_000);
const segment = arg('--segment', 1);
const declared = arg('--declared', 8 * 1024 * 1024);

const MB = 1024 * 1024;

function memory(): { rss: number; heapUsed: number; arrayBuffers: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

/** The attacking side: K sockets, each trickling its share of a declared frame. */
async function client(port: number): Promise<void> {
  const sockets = await Promise.all(
    Array.from({ length: conns }, () => new Promise<import('node:net').Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(s));
      s.on('error', reject);
    })),
  );
  for (const s of sockets) s.write(encodeFrameHeader(declared));
  const piece = new Uint8Array(segment).fill(0x61);
  for (let sent = 0; sent < bytes; sent += segment) {
    const n = Math.min(segment, bytes - sent);
    for (const s of sockets) s.write(n === segment ? piece : piece.subarray(0, n));
    await new Promise((r) => setImmediate(r));
  }
  process.send?.({ done: true });
  // Held open until the parent has sampled, then closed by the parent's kill.
  await new Promise(() => undefined);
}

async function main(): Promise<void> {
  if (process.argv.includes('--client')) {
    await client(arg('--port', 0));
    return;
  }
  if (declared > 8 * MB) throw new Error('--declared must be at most 8 MiB (maxFrameBytes)');
  if (bytes >= declared) throw new Error('--bytes must be below --declared, so the frame stays partial');
  const t = new TcpTransport({ bind: { host: '127.0.0.1', port: 0 }, frameTimeout: 600_000, readTimeout: 600_000 });
  await t.start({ onMessage: () => undefined });
  const before = memory();
  const started = performance.now();
  const child = fork(fileURLToPath(import.meta.url), ['--client', '--port', String(t.bindPort), '--conns', String(conns), '--bytes', String(bytes), '--segment', String(segment), '--declared', String(declared)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const expected = conns * (4 + bytes);
  const arrived = await waitUntil(30 * 60_000, 100, () => t.partialFrameBytes >= expected);
  const seconds = (performance.now() - started) / 1000;
  const after = memory();
  const received = t.partialFrameBytes;
  emit({
    type: 'tcp_trickle',
    conns, segment, declared,
    bytes_sent: conns * (4 + bytes),
    bytes_received: received,
    complete: arrived,
    seconds: r1(seconds),
    rss_before_mb: r1(before.rss / MB),
    rss_after_mb: r1(after.rss / MB),
    rss_growth_mb: r1((after.rss - before.rss) / MB),
    heap_growth_mb: r1((after.heapUsed - before.heapUsed) / MB),
    array_buffers_growth_mb: r1((after.arrayBuffers - before.arrayBuffers) / MB),
    rss_growth_per_byte: r3((after.rss - before.rss) / Math.max(1, received)),
    transport_buffered_bytes: t.bufferedBytes,
    transport_buffered_chunks: t.bufferedChunks,
    gc: typeof (globalThis as { gc?: unknown }).gc === 'function',
  });
  child.kill();
  await new Promise((r) => child.once('exit', r));
  await t.close();
}

await main();
