import {
  GrapevineError,
  type Transport,
  type TransportReceiver,
  type TransportStats,
} from '@grapevine/core';
import type { Endpoints } from './endpoints.js';

export interface MemoryTransportStats extends TransportStats {
  /** Exceptions thrown by the receiver's onMessage (caught; the message counts as received). */
  receiverErrors: number;
}

/** @internal What a MemoryTransport needs from its MemoryNetwork. */
export interface Wire {
  readonly packetBudget: number;
  readonly maxPacketBytes: number;
  readonly maxFrameBytes: number;
  /** Sends a best-effort packet; copies `data` if it will be delivered. */
  packet(from: string, to: string, data: Uint8Array): void;
  /** Copies `data` if it will be delivered; undefined when delivery was scheduled; otherwise a promise that rejects after the link delay. */
  reliable(from: string, to: string, data: Uint8Array): Promise<void> | undefined;
}

/**
 * The counters as a class, so every transport's object has the same shape with its fields stored
 * inline: bumped on every send, and a spread-built literal measured about 1.5x slower per
 * delivery at 10,000 endpoints (bench/dist/sim/network-speed.js).
 */
class Counters implements MemoryTransportStats {
  packetsSent = 0;
  packetBytesSent = 0;
  packetsReceived = 0;
  reliableSent = 0;
  reliableBytesSent = 0;
  reliableReceived = 0;
  connectionsOpened = 0;
  sendErrors = 0;
  dropped = 0;
  receiverErrors = 0;
}

const NEW = 0;
const STARTED = 1;
const CLOSED = 2;

/**
 * One node's endpoint on a MemoryNetwork. Behaves like a UDP+TCP pair as far as a Cluster can tell:
 * packets are fire-and-forget and may vanish; reliable messages arrive (in order per peer) or the
 * send is refused. Its address is a plain string, never a socket.
 */
export class MemoryTransport implements Transport {
  /** Every field but the receive counters is kept here as it happens; those are copied in on read. */
  private readonly counters = new Counters();
  private state = NEW;
  /** Peers already sent to over the reliable path: stands in for a connection pool. */
  private readonly connected = new Set<string>();
  /** This address's slot in the network's endpoint table, where receiver and receive counters live. */
  private readonly slot: number;

  /** @internal Use MemoryNetwork.createTransport. */
  constructor(
    readonly address: string,
    private readonly wire: Wire,
    private readonly endpoints: Endpoints,
  ) {
    this.slot = endpoints.add(this, address);
  }

  /**
   * The counters. The network counts arrivals in its endpoint table, so a delivery never touches
   * this object (see endpoints.ts); reading `stats` copies them in. One object for the transport's
   * life: read `stats` again, not a saved reference, for fresh receive counts.
   */
  get stats(): MemoryTransportStats {
    const c = this.counters;
    // Once closed, the slot may belong to a restarted transport: keep the counts read at close().
    if (this.state !== CLOSED) {
      c.packetsReceived = this.endpoints.packetsIn[this.slot]!;
      c.reliableReceived = this.endpoints.reliableIn[this.slot]!;
    }
    return c;
  }

  get packetBudget(): number {
    return this.wire.packetBudget;
  }

  /** True between start() and close(): the only time messages are delivered to it. */
  get receiving(): boolean {
    return this.state === STARTED;
  }

  get closed(): boolean {
    return this.state === CLOSED;
  }

  start(receiver: TransportReceiver): Promise<void> {
    if (this.state === CLOSED) return Promise.reject(new GrapevineError('ERR_CLOSED', `transport ${this.address} is closed`));
    if (this.state === STARTED) {
      return Promise.reject(new GrapevineError('ERR_INVALID_OPTION', `transport ${this.address} already started`));
    }
    this.endpoints.receivers[this.slot] = receiver;
    this.state = STARTED;
    return Promise.resolve();
  }

  sendPacket(to: string, data: Uint8Array): void {
    if (this.state !== STARTED || data.byteLength > this.wire.maxPacketBytes) {
      this.counters.sendErrors++;
      return;
    }
    this.counters.packetsSent++;
    this.counters.packetBytesSent += data.byteLength;
    // The network copies the bytes (the caller may reuse its buffer once we return, as with a socket).
    this.wire.packet(this.address, to, data);
  }

  sendReliable(to: string, data: Uint8Array): Promise<void> {
    if (this.state !== STARTED) {
      this.counters.sendErrors++;
      const code = this.state === CLOSED ? 'ERR_CLOSED' : 'ERR_NOT_STARTED';
      return Promise.reject(new GrapevineError(code, `transport ${this.address} is ${this.state === CLOSED ? 'closed' : 'not started'}`));
    }
    if (data.byteLength > this.wire.maxFrameBytes) {
      this.counters.sendErrors++;
      return Promise.reject(
        new GrapevineError('ERR_TOO_LARGE', `reliable message of ${data.byteLength} bytes exceeds ${this.wire.maxFrameBytes}`),
      );
    }
    const refused = this.wire.reliable(this.address, to, data);
    if (refused !== undefined) {
      this.counters.sendErrors++;
      return refused;
    }
    if (!this.connected.has(to)) {
      this.connected.add(to);
      this.counters.connectionsOpened++;
    }
    this.counters.reliableSent++;
    this.counters.reliableBytesSent += data.byteLength;
    return Promise.resolve();
  }

  /** Stop receiving; idempotent. Messages already in flight to this address are dropped on arrival. */
  close(): Promise<void> {
    if (this.state !== CLOSED) {
      void this.stats; // copies the receive counts in for good: a restart may reuse the slot
      this.state = CLOSED;
      this.endpoints.receivers[this.slot] = undefined;
      this.connected.clear();
    }
    return Promise.resolve();
  }

  /** Same as close(); reads better in a test that kills a node. Takes effect at once, no await needed. */
  crash(): Promise<void> {
    return this.close();
  }

  /** @internal The network caught an exception from this transport's receiver. */
  receiverFailed(): void {
    this.counters.receiverErrors++;
  }
}
