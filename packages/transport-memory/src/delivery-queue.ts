import type { VirtualClock } from './virtual-clock.js';

/**
 * Messages in flight, grouped by the virtual millisecond they arrive at. With 1 ms links nearly
 * every message of a large simulation lands on one of a handful of instants, so instead of one
 * clock timer (a heap entry, a closure, a handle) per message, each instant gets one timer and one
 * batch of parallel arrays, drained in send order. That keeps the clock's heap small (protocol
 * timers only) and a delivery free of allocation beyond the copied bytes.
 *
 * Order is still deterministic: a batch fires where its first message's timer would have, and its
 * messages arrive in the order they were sent. A message sent while a batch is draining for the
 * same instant (a zero-delay link) starts a new batch, which fires after the current one, as a
 * timer set from a timer callback would.
 */
export type Arrival = (from: string, to: string, slot: number, data: Uint8Array, reliable: boolean) => void;

class Batch {
  from: string[] = [];
  to: string[] = [];
  /** The destination's endpoint slot, resolved at send time (see endpoints.ts). */
  slot: number[] = [];
  data: Uint8Array[] = [];
  reliable: boolean[] = [];
  size = 0;

  push(from: string, to: string, slot: number, data: Uint8Array, reliable: boolean): void {
    const i = this.size++;
    this.from[i] = from;
    this.to[i] = to;
    this.slot[i] = slot;
    this.data[i] = data;
    this.reliable[i] = reliable;
  }

  /** Drop references to delivered messages so their bytes can be collected; keep the arrays. */
  clear(): void {
    for (let i = 0; i < this.size; i++) this.data[i] = EMPTY;
    this.size = 0;
  }
}

const EMPTY = new Uint8Array(0);
/** Spare batches kept for reuse; more than this many distinct instants in flight is unusual. */
const POOL_LIMIT = 64;

export class DeliveryQueue {
  private readonly byDue = new Map<number, Batch>();
  private readonly pool: Batch[] = [];

  constructor(
    private readonly clock: VirtualClock,
    private readonly arrive: Arrival,
  ) {}

  /** Messages scheduled and not yet handed to `arrive`. */
  get inFlight(): number {
    let n = 0;
    for (const b of this.byDue.values()) n += b.size;
    return n;
  }

  /** Schedule arrival `delay` virtual ms from now (rounded up, as the clock's timers are). */
  schedule(from: string, to: string, slot: number, data: Uint8Array, reliable: boolean, delay: number): void {
    const due = this.clock.now() + (delay > 0 ? Math.ceil(delay) : 0);
    let batch = this.byDue.get(due);
    if (batch === undefined) {
      batch = this.pool.pop() ?? new Batch();
      this.byDue.set(due, batch);
      this.clock.setTimer(() => this.drain(due), due - this.clock.now());
    }
    batch.push(from, to, slot, data, reliable);
  }

  private drain(due: number): void {
    const batch = this.byDue.get(due);
    if (batch === undefined) return;
    // Unlisted first: whatever is sent from here on for this same instant forms the next batch.
    this.byDue.delete(due);
    const failure = this.deliver(batch);
    batch.clear();
    if (this.pool.length < POOL_LIMIT) this.pool.push(batch);
    if (failure !== undefined) throw failure.err;
  }

  /**
   * The per-message loop, in a function of its own: it runs thousands of times per call and gets
   * optimised on entry, where as part of drain() it was compiled on-stack mid-loop and thrown away
   * at the loop's end, once per batch (V8's --trace-deopt showed it).
   */
  private deliver(batch: Batch): { err: unknown } | undefined {
    const { from, to, slot, data, reliable } = batch;
    const n = batch.size;
    let failure: { err: unknown } | undefined;
    for (let i = 0; i < n; i++) {
      try {
        this.arrive(from[i]!, to[i]!, slot[i]!, data[i]!, reliable[i]!);
      } catch (err) {
        // One message's failure (an onEvent hook that throws) must not lose the rest of the batch;
        // the first error is rethrown once the batch is done, so the clock still counts it.
        failure ??= { err };
      }
    }
    return failure;
  }
}
