/**
 * The forged-members attack on real sockets: a small cluster (createCluster, UDP+TCP on
 * 127.0.0.1, unencrypted, lan profile) receives one datagram naming 255 invented members at a
 * victim's address (a UDP socket and a TCP listener of this script, which count what arrives).
 * After `--settle` seconds a real member is closed without leaving (a crash), and the script waits
 * until every other member has declared it dead. Prints one JSON line: the attacker's bytes, what
 * the cluster sent the victim (UDP datagrams and bytes, TCP connections and bytes) and the ratio,
 * and the crash-detection time (first suspicion and last dead verdict after the crash).
 *
 *   node bench/dist/forged-members.js [--n 5] [--ghosts 255] [--settle 10] [--tail 30]
 */
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { defaultLimits, systemClock, toWire, WirePipeline, type Alive } from '@grapevine/core';
import { createCluster, msgpackCodec, type Cluster } from '@grapevine/node';
import { emit, now, progress, sleep } from './util.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '5' },
    ghosts: { type: 'string', default: '255' },
    settle: { type: 'string', default: '10' },
    tail: { type: 'string', default: '30' },
    'wait-limit': { type: 'string', default: '300' },
  },
});
const N = Number(values.n);
const GHOSTS = Number(values.ghosts);
const SETTLE_S = Number(values.settle);
const TAIL_S = Number(values.tail);
const WAIT_LIMIT_S = Number(values['wait-limit']);

async function main(): Promise<void> {
  // The victim: something at an address that never speaks the protocol.
  const victim = { udpPackets: 0, udpBytes: 0, tcpConnections: 0, tcpBytes: 0 };
  const udp = createSocket('udp4');
  udp.on('message', (m) => {
    victim.udpPackets++;
    victim.udpBytes += m.length;
  });
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  const sockets = new Set<Socket>();
  const tcp = createServer((s) => {
    victim.tcpConnections++;
    sockets.add(s);
    s.on('data', (d) => (victim.tcpBytes += d.length));
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r, j) => tcp.once('error', j).listen(port, '127.0.0.1', () => r()));
  const victimAddr = `127.0.0.1:${port}`;

  const nodes: Cluster[] = [];
  for (let i = 0; i < N; i++) {
    nodes.push(await createCluster({ name: `node-${i}`, bind: '127.0.0.1:0', profile: 'lan', ...(i > 0 ? { join: nodes[0]!.localNode.address } : {}) }));
  }
  const allSee = (): boolean => nodes.every((a) => nodes.every((b) => a.member(b.name)?.state === 'alive'));
  for (let t = 0; !allSee(); t++) {
    if (t > 300) throw new Error('the cluster did not form in 30 s');
    await sleep(100);
  }
  progress(`cluster of ${N} formed; victim at ${victimAddr}`);

  // The forged datagram: 255 alive messages at the victim's address, one envelope.
  const wire = new WirePipeline({ codecId: msgpackCodec.id, clock: systemClock, limits: defaultLimits, compressThreshold: 1 << 30 });
  const ghosts: Alive[] = Array.from({ length: GHOSTS }, (_, i) => ({ k: 5, name: `ghost-${i}`, addr: victimAddr, inc: 0, inst: 1, metaVer: 0, meta: {} }));
  const datagram = wire.seal(ghosts.map((g) => msgpackCodec.encode(toWire(g))));
  const attacker = createSocket('udp4');
  await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', () => r()));
  const [host, p0] = nodes[0]!.localNode.address.split(':');
  attacker.send(datagram, Number(p0), host);
  const attackAt = now();
  progress(`sent ${datagram.length} bytes naming ${GHOSTS} members; settling ${SETTLE_S} s`);
  await sleep(SETTLE_S * 1000);

  // The crash of a real member.
  const crashed = nodes[N - 1]!;
  const others = nodes.slice(0, -1);
  let firstSuspect: number | undefined;
  const deadAt = new Map<string, number>();
  for (const o of others) {
    o.on('suspect', (ev) => { if (ev.member.name === crashed.name) firstSuspect ??= now(); });
    o.on('dead', (ev) => { if (ev.member.name === crashed.name && !deadAt.has(o.localNode.name)) deadAt.set(o.localNode.name, now()); });
  }
  const crashAt = now();
  await crashed.close();
  while (deadAt.size < others.length && now() - crashAt < WAIT_LIMIT_S * 1000) await sleep(50);
  const detected = deadAt.size === others.length;
  const lastDead = detected ? Math.max(...deadAt.values()) : undefined;
  progress(`crash ${detected ? 'detected by all' : 'NOT detected by all'}; tail ${TAIL_S} s`);
  await sleep(TAIL_S * 1000);
  const windowS = (now() - attackAt) / 1000;
  const ghostMembers = others.reduce((s, o) => s + o.members().filter((m) => m.name.startsWith('ghost-')).length, 0);
  const victimBytes = victim.udpBytes + victim.tcpBytes;
  emit({
    scenario: 'forged_members', n: N, ghosts: GHOSTS, attacker_bytes: datagram.length,
    victim_udp_packets: victim.udpPackets, victim_udp_bytes: victim.udpBytes,
    victim_tcp_connections: victim.tcpConnections, victim_tcp_bytes: victim.tcpBytes,
    victim_bytes_ratio: +(victimBytes / datagram.length).toFixed(3), window_s: +windowS.toFixed(1),
    crash_detected_by_all: detected,
    first_suspect_ms: firstSuspect === undefined ? null : Math.round(firstSuspect - crashAt),
    detect_last_ms: lastDead === undefined ? null : Math.round(lastDead - crashAt),
    ghost_members_held: ghostMembers,
  });
  attacker.close();
  await Promise.all(others.map((o) => o.close()));
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => tcp.close(() => r()));
  udp.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
