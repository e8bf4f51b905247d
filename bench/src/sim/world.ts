/**
 * N core `Cluster`s on one MemoryNetwork and VirtualClock, with the views the bench needs kept
 * incrementally from each node's member events: how many members each node holds alive, and which
 * deaths were false. Nothing here scans N×N state per step, so the harness itself stays O(events)
 * and does not hide the protocol's own cost at 10,000 nodes.
 */
import { Cluster, MemoryMetrics, StringPool, messageType, seededRandom, type Codec, type MemberEvent, type ProfileName } from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { MemoryNetwork, VirtualClock, type MemoryTransport } from '@grapevine/transport-memory';
import type { SimCodec } from './args.js';

/** The application message the broadcast phase spreads (above the reserved type range). */
export const PING_ALL = messageType<{ id: number }>(4242);

export interface WorldOptions {
  nodes: number;
  seed: number;
  codec: SimCodec;
  profile: ProfileName;
  delay: number;
  /** Core option overrides for every node. */
  config?: Record<string, unknown>;
  /** Count every node's metrics into one shared MemoryMetrics (costs a map update per count). */
  counters?: boolean;
}

export class SimWorld {
  readonly clock = new VirtualClock({ maxTimersPerAdvance: 2_000_000_000 });
  readonly net: MemoryNetwork;
  readonly clusters: Cluster[] = [];
  readonly transports: MemoryTransport[] = [];
  readonly names: string[] = [];
  readonly index = new Map<string, number>();
  /** aliveCnt[o]: members (self included) node o holds in state alive. */
  readonly aliveCnt: Int32Array;
  /** Nodes closed by the bench (crashed); everything else is meant to be up. */
  readonly down: Uint8Array;
  /** `dead` verdicts about nodes that were up, since the last resetFalse(). */
  falseDeaths = 0;
  /** `suspect` verdicts about nodes that were up, since the last resetFalse(). */
  falseSuspects = 0;
  /** Per-subject hooks the phases install (first suspect, dead by all...). */
  onVerdict: ((observer: number, subject: number, ev: MemberEvent) => void) | undefined;
  /** Broadcast arrivals: set by the broadcast phase. */
  onPing: ((node: number, id: number) => void) | undefined;
  private readonly codec: Codec | undefined;
  /** One pool for every node: names, addresses and metadata stored once in the process, not N times. */
  readonly pool = new StringPool();

  /** With opts.counters: every node's counters, summed. */
  readonly metrics: MemoryMetrics | undefined;

  constructor(readonly opts: WorldOptions) {
    this.metrics = opts.counters ? new MemoryMetrics() : undefined;
    this.net = new MemoryNetwork({ clock: this.clock, seed: opts.seed, defaultDelay: opts.delay, jitter: 0 });
    this.aliveCnt = new Int32Array(opts.nodes);
    this.down = new Uint8Array(opts.nodes);
    this.codec = opts.codec === 'msgpack' ? msgpackCodec : undefined;
    for (let i = 0; i < opts.nodes; i++) {
      const name = `n${String(i).padStart(5, '0')}`;
      this.names.push(name);
      this.index.set(name, i);
    }
  }

  /** Create every node (none joined yet). */
  async create(): Promise<void> {
    for (let i = 0; i < this.opts.nodes; i++) {
      const transport = this.net.createTransport(address(i));
      const cluster = await Cluster.create({
        name: this.names[i]!,
        transport,
        clock: this.clock,
        random: seededRandom((Math.imul(this.opts.seed, 7919) + i) >>> 0),
        profile: this.opts.profile,
        stringPool: this.pool,
        ...(this.opts.config ?? {}),
        ...(this.metrics ? { metrics: this.metrics } : {}),
        ...(this.codec ? { codec: this.codec } : {}),
      });
      const obs = i;
      this.aliveCnt[i] = 1;
      cluster.on('change', (ev) => this.onChange(obs, ev));
      cluster.handle(PING_ALL, (msg) => this.onPing?.(obs, msg.id));
      this.clusters.push(cluster);
      this.transports.push(transport);
      // Let the wall-clock progress timer run now and then: 10,000 creations take seconds.
      if (i % 256 === 255) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  addressOf(i: number): string {
    return address(i);
  }

  liveCount(): number {
    let n = 0;
    for (let i = 0; i < this.down.length; i++) if (this.down[i] === 0) n++;
    return n;
  }

  /** Nodes up whose alive count equals `target(i)`. */
  countAt(target: (i: number) => number): number {
    let n = 0;
    for (let i = 0; i < this.down.length; i++) if (this.down[i] === 0 && this.aliveCnt[i] === target(i)) n++;
    return n;
  }

  /** Crash node i: its transport stops at once, in-flight messages to it are dropped. */
  async crash(i: number): Promise<void> {
    this.down[i] = 1;
    await this.clusters[i]!.close();
  }

  resetFalse(): void {
    this.falseDeaths = 0;
    this.falseSuspects = 0;
  }

  async close(): Promise<void> {
    for (let i = 0; i < this.clusters.length; i++) if (this.down[i] === 0) await this.clusters[i]!.close();
    await this.net.close();
  }

  private onChange(obs: number, ev: MemberEvent): void {
    if (ev.type === 'updated') return;
    if (ev.previous === 'alive') this.aliveCnt[obs]!--;
    if (ev.type === 'alive') this.aliveCnt[obs]!++;
    const s = this.index.get(ev.member.name);
    if (s === undefined || s === obs) return;
    if (this.down[s] === 0 && !this.partitioned) {
      if (ev.type === 'dead') this.falseDeaths++;
      else if (ev.type === 'suspect') this.falseSuspects++;
    }
    this.onVerdict?.(obs, s, ev);
  }

  /** While true, deaths across the cut are expected and not counted as false. */
  partitioned = false;
}

/** Node i's address: 10.a.b.c:7946, unique for i < 2^24. */
export function address(i: number): string {
  const h = i + 1;
  return `10.${(h >>> 16) & 255}.${(h >>> 8) & 255}.${h & 255}:7946`;
}
