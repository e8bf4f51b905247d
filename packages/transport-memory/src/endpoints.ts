import type { TransportReceiver } from '@grapevine/core';
import type { MemoryTransport } from './memory-transport.js';

/**
 * The network's table of addresses, laid out for the delivery path. Every address gets a small
 * integer slot for the network's life (a transport created again at a closed address, a restart,
 * takes the same slot). What a delivery needs per destination sits in dense arrays indexed by
 * slot: the receiver while the endpoint is started, and the receive counters. So a message in
 * flight carries its slot, its arrival reads two array cells and calls the receiver, and neither
 * the address string, a map, nor the transport object is touched per delivery. At 10,000
 * endpoints those scattered objects no longer stay in cache, and each touch was a miss (a CPU
 * profile put most of the simulator's time there); the arrays stay small (8 bytes per endpoint
 * each).
 */
export class Endpoints {
  private readonly slotOf = new Map<string, number>();
  /** The latest transport created at each slot's address. */
  readonly transports: MemoryTransport[] = [];
  /** The receiver of each started endpoint; undefined while not started or once closed. */
  readonly receivers: (TransportReceiver | undefined)[] = [];
  /** Best-effort packets handed to each slot's current transport. */
  packetsIn = new Float64Array(64);
  /** Reliable messages handed to each slot's current transport. */
  reliableIn = new Float64Array(64);

  /** The slot of `address`, or -1 if no transport was ever created there. */
  slot(address: string): number {
    return this.slotOf.get(address) ?? -1;
  }

  transportAt(address: string): MemoryTransport | undefined {
    const s = this.slotOf.get(address);
    return s === undefined ? undefined : this.transports[s];
  }

  /** Register `t` at its address (new slot, or the address's old slot with counters reset). */
  add(t: MemoryTransport, address: string): number {
    let s = this.slotOf.get(address);
    if (s === undefined) {
      s = this.transports.length;
      this.slotOf.set(address, s);
      if (s >= this.packetsIn.length) this.grow();
    }
    this.transports[s] = t;
    this.receivers[s] = undefined;
    this.packetsIn[s] = 0;
    this.reliableIn[s] = 0;
    return s;
  }

  values(): IterableIterator<MemoryTransport> {
    return this.transports.values();
  }

  private grow(): void {
    const n = this.packetsIn.length * 2;
    const p = new Float64Array(n);
    p.set(this.packetsIn);
    this.packetsIn = p;
    const r = new Float64Array(n);
    r.set(this.reliableIn);
    this.reliableIn = r;
  }
}
