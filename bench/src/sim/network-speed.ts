/**
 * The simulator's own speed, without the protocol: N MemoryTransports on a VirtualClock whose
 * receivers pass every packet they get on to a seeded-random other endpoint (plus one periodic
 * timer per endpoint, as a protocol's probe and gossip tickers would set). Prints simulated packet
 * deliveries per wall second, the figure of issue 13's "≥ 1,000,000" target; a full-protocol run
 * (`bench/dist/sim/main.js`) reports the same figure with the protocol's own work included.
 *
 *   node bench/dist/sim/network-speed.js [--nodes 10000] [--inflight 20000] [--ms 200] [--seed 1] [--loss 0]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { seededRandom } from '@grapevine/core';
import { MemoryNetwork, VirtualClock, type MemoryTransport } from '@grapevine/transport-memory';

function flag(values: Record<string, string | undefined>, name: string, def: number, min: number, max: number): number {
  const raw = values[name];
  if (raw === undefined) return def;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    process.stderr.write(`network-speed: --${name} must be a number in [${min}, ${max}], got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      strict: true,
      options: { nodes: { type: 'string' }, inflight: { type: 'string' }, ms: { type: 'string' }, seed: { type: 'string' }, loss: { type: 'string' } },
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    process.stderr.write(`network-speed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const n = flag(values, 'nodes', 10_000, 2, 1_000_000);
  const inflight = flag(values, 'inflight', 20_000, 1, 10_000_000);
  const simMs = flag(values, 'ms', 200, 1, 1e7);
  const seed = flag(values, 'seed', 1, 0, 0xffff_ffff);
  const loss = flag(values, 'loss', 0, 0, 1);

  const clock = new VirtualClock({ maxTimersPerAdvance: 2_000_000_000 });
  const net = new MemoryNetwork({ clock, seed, defaultDelay: 1 });
  if (loss > 0) net.setLoss('*', '*', loss);
  const rng = seededRandom(seed ^ 0x5eed);
  const ts: MemoryTransport[] = [];
  const addr = (i: number): string => `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}:7946`;
  // Addresses made once, as a protocol holds its members' addresses: the bench times the network.
  const addrs = Array.from({ length: n }, (_, i) => addr(i));
  for (let i = 0; i < n; i++) ts.push(net.createTransport(addrs[i]));
  let received = 0;
  for (let i = 0; i < n; i++) {
    const self = ts[i]!;
    await self.start({
      onMessage: (data) => {
        received++;
        self.sendPacket(addrs[Math.floor(rng.next() * n)]!, data);
      },
    });
    // One ticker per endpoint, like a protocol's probe timer: 1 s period, staggered.
    const tick = (): void => {
      clock.setTimer(tick, 1000);
    };
    clock.setTimer(tick, Math.floor(rng.next() * 1000));
  }
  const payload = new Uint8Array(64);
  for (let k = 0; k < inflight; k++) ts[k % n]!.sendPacket(addrs[Math.floor(rng.next() * n)]!, payload);
  await clock.advance(5); // warm up the JIT before timing
  const d0 = net.stats.delivered;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await clock.advance(simMs);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const deliveries = net.stats.delivered - d0;
  process.stdout.write(
    JSON.stringify({
      bench: 'network-speed',
      n,
      inflight,
      sim_ms: simMs,
      loss,
      deliveries,
      received,
      wall_ms: Math.round(wall),
      cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
      deliveries_per_wall_s: Math.round((deliveries * 1000) / wall),
      timers_fired: clock.fired,
      rss_mb: Math.round(process.memoryUsage().rss / 1048576),
      loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    }) + '\n',
  );
  await net.close();
}

void main();
