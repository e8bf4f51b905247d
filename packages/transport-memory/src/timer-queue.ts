import type { TimerHandle } from '@grapevine/core';
import { TimerHeap } from './timer-heap.js';

const PENDING = 0;
const FIRED = 1;
const CANCELLED = 2;

/** One scheduled callback. It is its own handle, so setTimer allocates a single object. */
export class VirtualTimer implements TimerHandle {
  state = PENDING;
  constructor(
    readonly due: number,
    readonly seq: number,
    public fn: (() => void) | undefined,
    private readonly queue: TimerQueue,
  ) {}

  cancel(): void {
    if (this.state !== PENDING) return;
    this.state = CANCELLED;
    this.fn = undefined; // release the closure now; the entry itself waits in the heap to be skipped
    this.queue.cancelled();
  }
}

/**
 * The virtual clock's agenda. Cancel is O(1): the timer is only marked, and skipped when it reaches
 * the top of the heap. Protocols cancel most of their timers (a probe timeout is cancelled by the
 * ack), so when dead entries outnumber live ones the heap is rebuilt without them.
 */
export class TimerQueue {
  private readonly heap = new TimerHeap<VirtualTimer>();
  private seq = 0;
  private live = 0;
  private dead = 0;

  /** Timers set and neither fired nor cancelled. */
  get pending(): number {
    return this.live;
  }

  add(fn: () => void, due: number): VirtualTimer {
    const t = new VirtualTimer(due, this.seq++, fn, this);
    this.heap.push(t);
    this.live++;
    return t;
  }

  /** The next live timer, without removing it; cancelled entries on top are discarded. */
  peek(): VirtualTimer | undefined {
    for (;;) {
      const t = this.heap.peek();
      if (t === undefined || t.state === PENDING) return t;
      this.heap.pop();
      this.dead--;
    }
  }

  /** Remove the timer peek() returned and take its callback. */
  take(t: VirtualTimer): () => void {
    this.heap.pop();
    this.live--;
    t.state = FIRED;
    const fn = t.fn!;
    t.fn = undefined;
    return fn;
  }

  /** @internal Called by VirtualTimer.cancel. */
  cancelled(): void {
    this.live--;
    this.dead++;
    if (this.dead > 1024 && this.dead > this.live) {
      this.heap.retain((t) => t.state === PENDING);
      this.dead = 0;
    }
  }
}
