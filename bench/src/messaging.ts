/**
 * Messaging benchmarks (issue 3 targets), one JSON line per result on stdout, progress on stderr:
 *
 *   node bench/dist/messaging.js throughput [--nodes 10] [--where one|many] [--size 100] [--secs 3] [--rates 2000,5000,...]
 *   node bench/dist/messaging.js request    [--secs 5] [--concurrency 64]
 *   node bench/dist/messaging.js stream     [--mb 500] [--cipher none|aes-256-gcm|xchacha20-poly1305]
 *
 * throughput: one node broadcasts `size`-byte messages at a fixed rate for `secs` to a cluster of
 * `nodes` (all in this process with --where one, or every receiver in its own process with
 * --where many), stepping the rate up; each step reports the delivery ratio. The answer is the
 * highest rate whose ratio is 1.
 * request: this process and a peer process; sequential round trips, then `concurrency` in flight.
 * stream: one stream of `mb` MiB from this process to a peer process, timed to the peer's reply.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createCluster, decodeKey, encodeKey, generateKey, type CipherName, type NodeCluster } from '@grapevine/node';
import { ascending, CpuMark, emit, now, pct, progress, r1, r3, sleep } from './util.js';

const PEER = fileURLToPath(new URL('./messaging-peer.js', import.meta.url));

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

interface Peer {
  child: ChildProcess;
  addr: string;
  name: string;
}

async function startPeer(name: string, opts: Record<string, unknown> = {}): Promise<Peer> {
  const child = spawn(process.execPath, [PEER, JSON.stringify({ name, ...opts })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout! });
  const [line] = (await once(rl, 'line')) as [string];
  return { child, name, addr: (JSON.parse(line) as { addr: string }).addr };
}

async function stopPeer(p: Peer): Promise<void> {
  if (p.child.exitCode !== null) return;
  p.child.kill('SIGTERM');
  await once(p.child, 'exit');
}

async function waitFor(pred: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = now() + ms;
  while (now() < end) {
    if (await pred()) return true;
    await sleep(20);
  }
  return pred();
}

// ---- throughput ------------------------------------------------------------------------------

async function throughput(): Promise<void> {
  const n = Number(flag('nodes', '10'));
  const where = flag('where', 'one');
  const size = Number(flag('size', '100'));
  const secs = Number(flag('secs', '3'));
  const rates = flag('rates', '2000,5000,10000,15000,20000,30000').split(',').map(Number);
  const origin = await createCluster({ name: 'node-000', bind: '127.0.0.1:0' });
  const locals: NodeCluster[] = [];
  const peers: Peer[] = [];
  const counts = new Map<string, Map<number, number>>();
  try {
    for (let i = 1; i < n; i++) {
      const name = `node-${String(i).padStart(3, '0')}`;
      if (where === 'many') {
        peers.push(await startPeer(name, { join: origin.localNode.address }));
      } else {
        const c = await createCluster({ name, bind: '127.0.0.1:0', join: origin.localNode.address });
        const m = new Map<number, number>();
        counts.set(name, m);
        c.handle<Uint8Array>(202, (p) => {
          const step = new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0);
          m.set(step, (m.get(step) ?? 0) + 1);
        });
        locals.push(c);
      }
    }
    await waitFor(() => origin.counts().alive === n, 30_000);
    progress(`throughput: ${n} nodes (${where === 'many' ? 'receivers in their own processes' : 'one process'}) converged`);
    await sleep(2000);
    const delivered = async (step: number): Promise<number> => {
      if (where !== 'many') return [...counts.values()].reduce((s, m) => s + (m.get(step) ?? 0), 0);
      const got = await Promise.all(peers.map((p) => origin.request<number>(p.name, 203, step).catch(() => 0)));
      return got.reduce((s, x) => s + x, 0);
    };
    for (let step = 0; step < rates.length; step++) {
      const rate = rates[step]!;
      const total = Math.round(rate * secs);
      const payload = new Uint8Array(size);
      const dv = new DataView(payload.buffer);
      dv.setUint32(0, step);
      const cm = new CpuMark();
      const t0 = now();
      let sent = 0;
      while (sent < total) {
        const due = Math.min(total, Math.floor(((now() - t0) / 1000) * rate));
        for (; sent < due; sent++) {
          dv.setUint32(4, sent);
          origin.broadcast(202, payload.slice());
        }
        await new Promise((r) => setImmediate(r));
      }
      const sendSecs = (now() - t0) / 1000;
      const want = total * (n - 1);
      let last = -1;
      let lastChange = now();
      for (;;) {
        const got = await delivered(step);
        if (got >= want) break;
        if (got !== last) {
          last = got;
          lastChange = now();
        }
        if (now() - lastChange > 3000) break;
        await sleep(100);
      }
      const got = await delivered(step);
      const row = {
        impl: 'grapevine', scenario: 'broadcast_throughput', n, where, msg_bytes: size, target_rate: rate,
        achieved_send_rate: r1(total / sendSecs), messages: total, delivered: got, expected: want,
        delivery_ratio: Math.round((got / want) * 10000) / 10000,
        queue_dropped: origin.node.messenger.queue.dropped,
        process_cpu_pct: cm.pct(),
      };
      emit(row);
      progress(`rate ${rate}/s: ratio ${row.delivery_ratio}`);
      await sleep(1500);
    }
  } finally {
    await Promise.all(locals.map((c) => c.close()));
    await Promise.all(peers.map(stopPeer));
    await origin.close();
  }
}

// ---- request/reply ---------------------------------------------------------------------------

async function requestReply(): Promise<void> {
  const secs = Number(flag('secs', '5'));
  const concurrency = Number(flag('concurrency', '64'));
  const peer = await startPeer('peer');
  const c = await createCluster({ name: 'main', bind: '127.0.0.1:0', join: peer.addr });
  try {
    const payload = { op: 'get', key: 'user:42' };
    // Warm up (JIT, connections).
    for (let i = 0; i < 2000; i++) await c.request('peer', 200, payload);
    const seq: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const t = now();
      await c.request('peer', 200, payload);
      seq.push(now() - t);
    }
    seq.sort(ascending);
    emit({ impl: 'grapevine', scenario: 'request_sequential', requests: seq.length, rtt_ms_p50: r3(pct(seq, 50)), rtt_ms_p99: r3(pct(seq, 99)), req_per_s: r1(seq.length / (seq.reduce((s, x) => s + x, 0) / 1000)) });
    const lat: number[] = [];
    const cm = new CpuMark();
    const t0 = now();
    const end = t0 + secs * 1000;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (now() < end) {
        const t = now();
        await c.request('peer', 200, payload);
        lat.push(now() - t);
        done++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const wall = (now() - t0) / 1000;
    lat.sort(ascending);
    emit({
      impl: 'grapevine', scenario: 'request_concurrent', concurrency, secs: r1(wall), requests: done,
      req_per_s: r1(done / wall), rtt_ms_p50: r3(pct(lat, 50)), rtt_ms_p99: r3(pct(lat, 99)), requester_cpu_pct: cm.pct(),
    });
  } finally {
    await c.close();
    await stopPeer(peer);
  }
}

// ---- stream ----------------------------------------------------------------------------------

async function streamThroughput(): Promise<void> {
  const mb = Number(flag('mb', '500'));
  const cipher = flag('cipher', 'none') as CipherName | 'none';
  const key = cipher === 'none' ? undefined : encodeKey(generateKey());
  const wire = key ? { key, cipher } : {};
  const peer = await startPeer('peer', wire);
  const c = await createCluster({
    name: 'main', bind: '127.0.0.1:0', join: peer.addr,
    ...(key ? { keys: [decodeKey(key)], cipher: cipher as CipherName } : {}),
  });
  try {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const cm = new CpuMark();
    const t0 = now();
    const s = await c.openStream('peer', 201, null);
    for (let i = 0; i < mb; i++) {
      if (!s.write(chunk)) await once(s, 'drain');
    }
    s.end();
    let reply = '';
    for await (const part of s) reply += String(part);
    const secs = (now() - t0) / 1000;
    if (Number(reply) !== mb * 1024 * 1024) throw new Error(`peer received ${reply} bytes, expected ${mb * 1024 * 1024}`);
    emit({ impl: 'grapevine', scenario: 'stream', cipher, mib: mb, secs: r1(secs), mib_per_s: r1(mb / secs), sender_cpu_pct: cm.pct() });
  } finally {
    await c.close();
    await stopPeer(peer);
  }
}

const which = process.argv[2];
const run = which === 'throughput' ? throughput : which === 'request' ? requestReply : which === 'stream' ? streamThroughput : undefined;
if (!run) {
  process.stderr.write('usage: node bench/dist/messaging.js throughput|request|stream [flags]\n');
  process.exit(2);
}
await run();
