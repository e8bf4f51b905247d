import { GrapevineError, randomInt, seededRandom, type Random } from '@grapevine/core';
import { DeliveryQueue } from './delivery-queue.js';
import { Endpoints } from './endpoints.js';
import { LinkConditions } from './link-conditions.js';
import { PacketCopier } from './packet-copy.js';
import { MemoryTransport, type Wire } from './memory-transport.js';
import { realTimeDriver, type RealTimeDriver, type RealTimeDriverOptions } from './real-time-driver.js';
import type { VirtualClock } from './virtual-clock.js';

export interface MemoryNetworkOptions {
  clock: VirtualClock;
  /** Seeds the one random stream behind every loss and jitter decision. */
  seed: number;
  /** One-way latency of every link (virtual ms) unless setDelay says otherwise. Default 1. */
  defaultDelay?: number;
  /** Extra latency drawn uniformly from [0, jitter] ms per message. Default 0. */
  jitter?: number;
  /** What each transport reports as its packetBudget. Default 1400. */
  packetBudget?: number;
  /** Largest packet sendPacket accepts at all (larger ones are dropped and counted, as UDP would refuse them). Default 65,507. */
  maxPacketBytes?: number;
  /** Largest reliable message; sendReliable rejects ERR_TOO_LARGE beyond it. Default 8 MiB. */
  maxFrameBytes?: number;
  /** Advance the clock with real time (see realTimeDriver) until close(). Default false. */
  autoAdvance?: boolean | RealTimeDriverOptions;
  /** Sees every message's fate, in order. For traces and replay debugging; costs nothing when unset. */
  onEvent?: (event: NetworkEvent) => void;
}

export type NetworkEventKind =
  /** Handed to the destination's receiver. */
  | 'delivered'
  /** A best-effort packet dropped by link or inbound loss. */
  | 'lost'
  /** Cut by a partition or isolation, at send or on arrival. */
  | 'partitioned'
  /** No started transport at the destination, at send or on arrival. */
  | 'unreachable';

export interface NetworkEvent {
  kind: NetworkEventKind;
  /** Virtual time of the decision. */
  time: number;
  from: string;
  to: string;
  reliable: boolean;
  bytes: number;
}

export interface NetworkStats {
  /** Messages handed to a receiver, both paths. */
  delivered: number;
  /** Best-effort packets dropped by link or inbound loss. */
  lost: number;
  /** Messages (either path) cut by a partition or isolation. */
  partitioned: number;
  /** Messages (either path) to an unknown, unstarted or closed address. */
  unreachable: number;
}

/**
 * An in-process network of MemoryTransports on a VirtualClock. Every delivery is a timer on that
 * clock, and every random choice (loss, jitter) is drawn from one seeded stream in the order events
 * happen, so the same seed and the same calls give the same run, message for message.
 */
export class MemoryNetwork {
  readonly clock: VirtualClock;
  readonly stats: NetworkStats = { delivered: 0, lost: 0, partitioned: 0, unreachable: 0 };
  private readonly rng: Random;
  private readonly links = new LinkConditions();
  private readonly nodes = new Endpoints();
  private readonly defaultDelay: number;
  private readonly jitter: number;
  private readonly onEvent: ((event: NetworkEvent) => void) | undefined;
  /** Latest scheduled arrival per sender→receiver on the reliable path, to keep it FIFO like a TCP stream. */
  private readonly reliableTail = new Map<string, number>();
  private readonly wire: Wire;
  /** Batches deliveries per arrival instant; undefined with flush 'timer', which needs a timer per message. */
  private readonly queue: DeliveryQueue | undefined;
  private readonly copier = new PacketCopier();
  private readonly arriveFn = (from: string, to: string, slot: number, data: Uint8Array, reliable: boolean): void =>
    this.arrive(from, to, slot, data, reliable);
  private driver: RealTimeDriver | undefined;
  private nextHost = 1;
  private pruneAt = 65_536;

  constructor(options: MemoryNetworkOptions) {
    this.clock = options.clock;
    this.rng = seededRandom(options.seed);
    this.defaultDelay = nonNegative(options.defaultDelay ?? 1, 'defaultDelay');
    this.jitter = nonNegative(options.jitter ?? 0, 'jitter');
    this.onEvent = options.onEvent;
    // With flush 'timer' every message must be its own timer, so promise continuations settle
    // between two deliveries as they would on a real event loop; otherwise batch per instant.
    this.queue = this.clock.flushMode === 'timer' ? undefined : new DeliveryQueue(this.clock, this.arriveFn);
    this.wire = {
      packetBudget: positive(options.packetBudget ?? 1400, 'packetBudget'),
      maxPacketBytes: positive(options.maxPacketBytes ?? 65_507, 'maxPacketBytes'),
      maxFrameBytes: positive(options.maxFrameBytes ?? 8 * 1024 * 1024, 'maxFrameBytes'),
      packet: (from, to, data) => this.sendPacket(from, to, data),
      reliable: (from, to, data) => this.sendReliable(from, to, data),
    };
    if (options.autoAdvance) {
      this.driver = realTimeDriver(this.clock, options.autoAdvance === true ? {} : options.autoAdvance);
    }
  }

  /**
   * A new endpoint. Without an address one is made up ("10.0.0.1:7946", "10.0.0.2:7946", ...).
   * An address may be reused once its previous transport is closed: that is a node restarting.
   */
  createTransport(address?: string): MemoryTransport {
    let addr = address;
    if (addr === undefined) {
      do addr = fakeAddress(this.nextHost++);
      while (this.nodes.transportAt(addr)?.closed === false);
    } else if (this.nodes.transportAt(addr)?.closed === false) {
      throw new GrapevineError('ERR_INVALID_OPTION', `address ${addr} is already in use on this network`);
    }
    return new MemoryTransport(addr, this.wire, this.nodes);
  }

  /** The transport currently registered at `address`, if any. */
  transport(address: string): MemoryTransport | undefined {
    return this.nodes.transportAt(address);
  }

  /** Drop best-effort packets on from → to with probability p. '*' matches any address. */
  setLoss(from: string, to: string, p: number): void {
    this.links.setLoss(from, to, p);
  }

  /** Drop each best-effort packet arriving at `address` ('*': every node) with probability p. */
  setInboundLoss(address: string, p: number): void {
    this.links.setInboundLoss(address, p);
  }

  /** One-way latency on from → to ('*' matches any), optionally with its own jitter. */
  setDelay(from: string, to: string, ms: number, jitter?: number): void {
    this.links.setDelay(from, to, ms, jitter);
  }

  /** No message, on either path, crosses between the groups in either direction until heal(). */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    this.links.cut(groupA, groupB, true);
  }

  /** Messages from `from` nodes to `to` nodes are cut; the reverse direction still works. */
  partitionOneWay(from: readonly string[], to: readonly string[]): void {
    this.links.cut(from, to, false);
  }

  /** Cut `address` off from every other node (including ones created later) until heal(). */
  isolate(address: string): void {
    this.links.isolate(address);
  }

  /** Remove all partitions and isolations. Loss and delay settings stay. */
  heal(): void {
    this.links.heal();
  }

  /** Whether a message from → to would currently get past the partitions. */
  reachable(from: string, to: string): boolean {
    return this.links.reachable(from, to);
  }

  /** Stop the real-time driver, if any, and close every transport. Idempotent. */
  async close(): Promise<void> {
    const driver = this.driver;
    this.driver = undefined;
    await driver?.stop();
    for (const t of this.nodes.values()) await t.close();
  }

  private sendPacket(from: string, to: string, data: Uint8Array): void {
    if (!this.links.reachable(from, to)) return this.drop('partitioned', from, to, false, data);
    const slot = this.nodes.slot(to);
    if (slot < 0 || this.nodes.receivers[slot] === undefined) return this.drop('unreachable', from, to, false, data);
    const p = this.links.lossFor(from, to);
    if (p > 0 && this.rng.next() < p) return this.drop('lost', from, to, false, data);
    // Copied only once it will travel: the caller may reuse its buffer as soon as we return.
    this.schedule(from, to, slot, this.copier.copy(data), false, this.delay(from, to));
  }

  private schedule(from: string, to: string, slot: number, data: Uint8Array, reliable: boolean, delay: number): void {
    if (this.queue !== undefined) this.queue.schedule(from, to, slot, data, reliable, delay);
    else this.clock.setTimer(() => this.arrive(from, to, slot, data, reliable), delay);
  }

  private sendReliable(from: string, to: string, data: Uint8Array): Promise<void> | undefined {
    const delay = this.delay(from, to);
    const cut = !this.links.reachable(from, to);
    const slot = this.nodes.slot(to);
    if (cut || slot < 0 || this.nodes.receivers[slot] === undefined) {
      this.drop(cut ? 'partitioned' : 'unreachable', from, to, true, data);
      // Refused like a TCP connect: the answer takes a trip over the link.
      return new Promise<void>((_, reject) => {
        this.clock.setTimer(
          () => reject(new GrapevineError('ERR_UNREACHABLE', `${to} is unreachable from ${from}${cut ? ' (partitioned)' : ''}`)),
          delay,
        );
      });
    }
    // Jitter must not reorder one peer's reliable messages: a stream layer relies on TCP's order.
    const key = `${from}\u0000${to}`;
    const now = this.clock.now();
    const due = Math.max(now + Math.ceil(delay), this.reliableTail.get(key) ?? 0);
    if (this.reliableTail.size > this.pruneAt) this.pruneReliableTails(now);
    this.reliableTail.set(key, due);
    this.schedule(from, to, slot, this.copier.copy(data), true, due - now);
    return undefined;
  }

  private arrive(from: string, to: string, slot: number, data: Uint8Array, reliable: boolean): void {
    // The slot is the address's for the network's life, so a transport started there since the
    // send (a restart) gets the message, as a restarted process would get a UDP datagram.
    const nodes = this.nodes;
    const receiver = nodes.receivers[slot];
    // Conditions are checked again on arrival: a partition or crash can happen while in flight.
    if (receiver === undefined) return this.drop('unreachable', from, to, reliable, data);
    if (!this.links.reachable(from, to)) return this.drop('partitioned', from, to, reliable, data);
    if (!reliable) {
      const p = this.links.inboundLossFor(to);
      if (p > 0 && this.rng.next() < p) return this.drop('lost', from, to, reliable, data);
    }
    this.stats.delivered++;
    this.onEvent?.({ kind: 'delivered', time: this.clock.now(), from, to, reliable, bytes: data.byteLength });
    if (reliable) nodes.reliableIn[slot]!++;
    else nodes.packetsIn[slot]!++;
    try {
      receiver.onMessage(data, { from, reliable });
    } catch {
      nodes.transports[slot]!.receiverFailed();
    }
  }

  private drop(kind: Exclude<NetworkEventKind, 'delivered'>, from: string, to: string, reliable: boolean, data: Uint8Array): void {
    this.stats[kind]++;
    this.onEvent?.({ kind, time: this.clock.now(), from, to, reliable, bytes: data.byteLength });
  }

  private delay(from: string, to: string): number {
    const link = this.links.delayFor(from, to);
    const base = link?.ms ?? this.defaultDelay;
    const jitter = link?.jitter ?? this.jitter;
    return jitter > 0 ? base + randomInt(this.rng, Math.floor(jitter) + 1) : base;
  }

  private pruneReliableTails(now: number): void {
    for (const [k, due] of this.reliableTail) if (due <= now) this.reliableTail.delete(k);
    // If most entries are still in flight, wait for the map to double before scanning again.
    this.pruneAt = Math.max(65_536, 2 * this.reliableTail.size);
  }
}

/** 1 → "10.0.0.1:7946", 256 → "10.0.1.0:7946": unique, readable, and parseable as host:port. */
function fakeAddress(n: number): string {
  return `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}:7946`;
}

function nonNegative(v: number, name: string): number {
  if (!(v >= 0) || !Number.isFinite(v)) throw new GrapevineError('ERR_INVALID_OPTION', `MemoryNetwork: ${name} must be >= 0, got ${v}`);
  return v;
}

function positive(v: number, name: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new GrapevineError('ERR_INVALID_OPTION', `MemoryNetwork: ${name} must be > 0, got ${v}`);
  return v;
}
