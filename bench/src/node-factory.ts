/**
 * How the harness starts one Grapevine node: `createCluster` from the grapevine package on a
 * `UdpTcpTransport` the harness builds itself, so it can read the transport's counters and drop
 * inbound datagrams (the anchor wraps memberlist's NetTransport for the same two reasons). With
 * `--transport tcp` or `ws` the node runs on a `TcpTransport` or a `WsTransport` instead (its
 * "UDP" counters then count the best-effort packets those carry; no loss can be injected).
 *
 * Traffic is counted at the same boundary as the anchor: UDP payload bytes and datagrams handed to
 * the socket, TCP bytes written for reliable messages. Loss is injected at the same point: inbound,
 * per datagram, before the protocol sees it, with a seeded per-node generator.
 */
import { MemoryMetrics, seededRandom, type Cluster, type ProfileName, type ProtocolConfig } from '@grapevine/core';
import { TcpTransport, UdpTcpTransport, WsTransport, createCluster, decodeKey, type Transport, type TransportStats, type WsTransportOptions } from '@grapevine/node';

/** The transports a benchmark can run on. */
export type BenchTransport = 'udp+tcp' | 'tcp' | 'ws';
export const BENCH_TRANSPORTS: readonly BenchTransport[] = ['udp+tcp', 'tcp', 'ws'];
export type BenchWsOptions = Pick<WsTransportOptions, 'connectAhead' | 'connectAheadDelay'>;

/** Cumulative traffic counters of one node (all only grow). */
export interface TrafficSnap {
  udpOutPkts: number;
  udpOutBytes: number;
  /** Datagrams delivered to the protocol (after loss). */
  udpInPkts: number;
  /** Datagrams dropped by the injected loss. */
  udpDropped: number;
  tcpDials: number;
  tcpAccepts: number;
  /** Reliable (TCP) message bytes handed to connections; the 4-byte frame prefix is not counted. */
  tcpOutBytes: number;
  tcpOutMsgs: number;
}

export const TRAFFIC_KEYS: (keyof TrafficSnap)[] = ['udpOutPkts', 'udpOutBytes', 'udpInPkts', 'udpDropped', 'tcpDials', 'tcpAccepts', 'tcpOutBytes', 'tcpOutMsgs'];

export function zeroTraffic(): TrafficSnap {
  return { udpOutPkts: 0, udpOutBytes: 0, udpInPkts: 0, udpDropped: 0, tcpDials: 0, tcpAccepts: 0, tcpOutBytes: 0, tcpOutMsgs: 0 };
}

export function addTraffic(a: TrafficSnap, b: TrafficSnap): TrafficSnap {
  const out = zeroTraffic();
  for (const k of TRAFFIC_KEYS) out[k] = a[k] + b[k];
  return out;
}

export function subTraffic(a: TrafficSnap, b: TrafficSnap): TrafficSnap {
  const out = zeroTraffic();
  for (const k of TRAFFIC_KEYS) out[k] = a[k] - b[k];
  return out;
}

export interface NodeSpec {
  name: string;
  host: string;
  port: number;
  profile: ProfileName;
  /** Protocol options on top of the profile (the harness's variants). */
  overrides: Partial<Omit<ProtocolConfig, 'limits'>>;
  /** Seed of the node's inbound-loss generator. */
  lossSeed: number;
  /** Seed of the node's protocol randomness (probe order, gossip targets, stagger). */
  protocolSeed: number;
  transport: BenchTransport;
  /** WsTransport options the run varies (--ws-no-connect-ahead, --ws-connect-ahead-delay). */
  ws?: BenchWsOptions;
}

export interface StartedNode {
  cluster: Cluster;
  metrics: MemoryMetrics;
  traffic(): TrafficSnap;
  /** Inbound UDP drop probability from now on (0 = none). */
  setLoss(p: number): void;
}

export async function startNode(spec: NodeSpec): Promise<StartedNode> {
  const lossRng = seededRandom(spec.lossSeed);
  let loss = 0;
  let dropped = 0;
  let delivered = 0;
  const bind = { host: spec.host, port: spec.port };
  let transport: Transport & { stats: TransportStats & { connectionsAccepted: number } };
  if (spec.transport === 'udp+tcp') {
    transport = new UdpTcpTransport({
      bind,
      inboundFilter: () => {
        if (loss > 0 && lossRng.next() < loss) {
          dropped++;
          return false;
        }
        delivered++;
        return true;
      },
    });
  } else if (spec.transport === 'tcp') {
    transport = new TcpTransport({ bind });
  } else {
    transport = new WsTransport({ ...spec.ws, listen: bind });
  }
  const metrics = new MemoryMetrics();
  const cluster = await createCluster({
    ...spec.overrides,
    name: spec.name,
    transport,
    profile: spec.profile,
    metrics,
    random: seededRandom(spec.protocolSeed),
    // --encrypt: every node of the run seals with the same key (set by run.ts in the environment).
    ...(process.env.GRAPEVINE_BENCH_KEY
      ? { keys: [decodeKey(process.env.GRAPEVINE_BENCH_KEY)], cipher: process.env.GRAPEVINE_BENCH_CIPHER as 'xchacha20-poly1305' | 'aes-256-gcm' }
      : {}),
  });
  return {
    cluster,
    metrics,
    traffic() {
      const s = transport.stats;
      return {
        udpOutPkts: s.packetsSent,
        udpOutBytes: s.packetBytesSent,
        udpInPkts: spec.transport === 'udp+tcp' ? delivered : s.packetsReceived,
        udpDropped: dropped,
        tcpDials: s.connectionsOpened,
        tcpAccepts: s.connectionsAccepted,
        tcpOutBytes: s.reliableBytesSent,
        tcpOutMsgs: s.reliableSent,
      };
    },
    setLoss(p: number) {
      if (p > 0 && spec.transport !== 'udp+tcp') throw new Error(`loss injection needs --transport udp+tcp (this run: ${spec.transport})`);
      loss = p;
    },
  };
}
