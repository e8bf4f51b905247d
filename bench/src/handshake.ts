/**
 * What a first contact costs on a connection-oriented transport, and why a join burst on one node
 * is serialised. Two measurements, each for the WebSocket and the TCP transport:
 *
 *   cost    `--clients` × `--servers` transports in this process, every client sends one reliable
 *           message to every server at once (one new connection per pair). Reports CPU time per
 *           connection (both ends, process CPU / connections) and wall time, per round.
 *   accept  `--joiners` transports send one message each to a single server at the same moment,
 *           while a setImmediate callback keeps every event-loop iteration busy for `--busy-ms`
 *           (what the other nodes of a one-process benchmark do). Reports when the first and last
 *           message arrived and arrivals per iteration: Node 20's libuv accepts one connection per
 *           wakeup of a listener, so a node that many peers dial at once takes about one loop
 *           iteration per connection, whatever the transport; the first arrival shows how many
 *           iterations one first contact needs.
 *
 *   node bench/dist/handshake.js [--clients 20] [--servers 25] [--rounds 4] [--joiners 49] [--busy-ms 10]
 *
 * Prints one JSON line per (measurement, transport, round).
 */
import type { Transport, TransportReceiver } from '@grapevine/core';
import { TcpTransport, WsTransport } from '@grapevine/node';
import { emit, now, r1, r3, waitUntil } from './util.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v >= 0 ? v : fallback;
};
const clients = arg('--clients', 20);
const servers = arg('--servers', 25);
const rounds = arg('--rounds', 4);
const joiners = arg('--joiners', 49);
const busyMs = arg('--busy-ms', 10);

type Kind = 'ws' | 'tcp';
const BIND = { host: '127.0.0.1', port: 0 };

function make(kind: Kind): Transport {
  // connectAhead is off: this measures the connection a first message opens.
  return kind === 'ws' ? new WsTransport({ listen: BIND, connectAhead: false }) : new TcpTransport({ bind: BIND });
}

/** Counts arrivals and calls `onArrival` with the time of each. */
class Counter implements TransportReceiver {
  count = 0;
  constructor(private readonly onArrival: (at: number) => void = () => undefined) {}
  onMessage(): void {
    this.count++;
    this.onArrival(now());
  }
}

async function startAll(kind: Kind, n: number, receivers: (i: number) => TransportReceiver): Promise<Transport[]> {
  const ts: Transport[] = [];
  for (let i = 0; i < n; i++) {
    const t = make(kind);
    await t.start(receivers(i));
    ts.push(t);
  }
  return ts;
}

async function cost(kind: Kind, round: number): Promise<void> {
  const counters: Counter[] = [];
  const srv = await startAll(kind, servers, () => {
    const c = new Counter();
    counters.push(c);
    return c;
  });
  const cli = await startAll(kind, clients, () => new Counter());
  const message = Uint8Array.of(1, 2, 3, 4);
  const want = clients * servers;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const sends: Promise<void>[] = [];
  for (const c of cli) for (const s of srv) sends.push(c.sendReliable(s.address, message));
  await Promise.all(sends);
  const ok = await waitUntil(30_000, 1, () => counters.reduce((a, c) => a + c.count, 0) >= want);
  const wall = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  emit({
    bench: 'handshake', measure: 'cost', transport: kind, round, ok, connections: want,
    cpu_ms_per_connection: r3((cpu.user + cpu.system) / 1000 / want), wall_ms: r1(wall),
  });
  await Promise.all([...cli, ...srv].map((t) => t.close()));
}

async function accept(kind: Kind, round: number): Promise<void> {
  const arrivals: number[] = [];
  const [server] = await startAll(kind, 1, () => new Counter((at) => arrivals.push(at)));
  const js = await startAll(kind, joiners, () => new Counter());
  let busy = true;
  let iterations = 0;
  const burn = (): void => {
    iterations++;
    const until = now() + busyMs;
    while (now() < until) {
      /* the rest of a loaded process */
    }
    if (busy) setImmediate(burn);
  };
  setImmediate(burn);
  const t0 = now();
  for (const j of js) void j.sendReliable(server!.address, Uint8Array.of(7)).catch(() => undefined);
  const ok = await waitUntil(60_000, 1, () => arrivals.length >= joiners);
  busy = false;
  const spans = arrivals.map((a) => a - t0).sort((a, b) => a - b);
  const last = spans[spans.length - 1] ?? 0;
  emit({
    bench: 'handshake', measure: 'accept', transport: kind, round, ok, joiners, busy_ms: busyMs,
    first_ms: r1(spans[0] ?? 0), last_ms: r1(last), loop_iterations: iterations,
    arrivals_per_iteration: r3(arrivals.length / Math.max(1, iterations)),
  });
  await Promise.all([...js, server!].map((t) => t.close()));
}

for (const kind of ['ws', 'tcp'] as const) {
  for (let r = 0; r < rounds; r++) await cost(kind, r);
  await accept(kind, 0);
}
