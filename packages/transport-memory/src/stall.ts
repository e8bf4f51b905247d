/**
 * A CPU-starved or paused process, for simulation. A real node whose event loop is blocked (a
 * loaded machine, a long GC, a stopped container) runs none of its timers and reads none of its
 * sockets until it gets the CPU back; the kernel meanwhile keeps what fits in the socket receive
 * buffer and drops the rest of the datagrams, while TCP holds its bytes. Stall models exactly that
 * for one node on a shared VirtualClock:
 *
 * - `clock` is that node's view of the virtual clock: the time is the same, but a timer that comes
 *   due while the node is stalled runs when the stall ends (late, as a starved timer does);
 * - `wrap(transport)` holds what arrives while stalled: reliable messages all (in order), packets up
 *   to `packetBuffer` of them (a socket receive buffer), later ones dropped and counted;
 * - at the end of a stall the node runs its overdue timers, then reads what was held, in order.
 *
 * `stall(ms)` pauses the node once; `starve()` pauses it over and over (a node that gets the CPU
 * only part of the time). Everything is driven by the virtual clock, so runs replay exactly.
 */
import type { Clock, TimerHandle, Transport, TransportReceiver, InboundInfo } from '@grapevine/core';
import type { VirtualClock } from './virtual-clock.js';

export interface StallOptions {
  /** Packets kept while stalled (the socket receive buffer); later ones are dropped. Default 64. */
  packetBuffer?: number;
}

export interface StallStats {
  /** Stalls started. */
  stalls: number;
  /** Timers that came due during a stall and ran late. */
  lateTimers: number;
  /** Messages held during a stall and read at its end. */
  heldMessages: number;
  /** Packets that arrived to a full buffer during a stall. */
  droppedPackets: number;
}

interface Deferred {
  fn: () => void;
  cancelled: boolean;
}

interface Held {
  receiver: TransportReceiver;
  data: Uint8Array;
  info: InboundInfo;
}

export class Stall {
  readonly stats: StallStats = { stalls: 0, lateTimers: 0, heldMessages: 0, droppedPackets: 0 };
  /** This node's clock: the shared time, with timers that wait out a stall. */
  readonly clock: Clock;
  private until = -Infinity;
  private resumeTimer: TimerHandle | undefined;
  private lateTimers: Deferred[] = [];
  private held: Held[] = [];
  private heldPackets = 0;
  private readonly packetBuffer: number;

  constructor(private readonly base: VirtualClock, options: StallOptions = {}) {
    this.packetBuffer = options.packetBuffer ?? 64;
    this.clock = {
      now: () => base.now(),
      setTimer: (fn, ms) => {
        const d: Deferred = { fn, cancelled: false };
        const h = base.setTimer(() => {
          if (d.cancelled) return;
          if (this.stalled) {
            this.stats.lateTimers++;
            this.lateTimers.push(d);
          } else {
            fn();
          }
        }, ms);
        return {
          cancel: () => {
            d.cancelled = true;
            h.cancel();
          },
        };
      },
    };
  }

  /** True while the node is paused. */
  get stalled(): boolean {
    return this.base.now() < this.until;
  }

  /** Pause the node from now for `ms` (extends a stall already under way). */
  stall(ms: number): void {
    const end = this.base.now() + ms;
    if (end <= this.until) return;
    this.stats.stalls++;
    this.until = end;
    this.resumeTimer?.cancel();
    this.resumeTimer = this.base.setTimer(() => this.resume(), ms);
  }

  /**
   * A node that gets the CPU only part of the time: starting now, for `forMs`, it is paused for
   * `stallMs` out of every `everyMs`.
   */
  starve(stallMs: number, everyMs: number, forMs: number): void {
    const end = this.base.now() + forMs;
    const round = (): void => {
      if (this.base.now() >= end) return;
      this.stall(Math.min(stallMs, end - this.base.now()));
      this.base.setTimer(round, everyMs);
    };
    round();
  }

  /** The transport as the stalled node sees it: inbound messages wait out a stall. */
  wrap(t: Transport): Transport {
    const hold = (receiver: TransportReceiver, data: Uint8Array, info: InboundInfo): void => {
      if (!this.stalled) {
        receiver.onMessage(data, info);
        return;
      }
      if (!info.reliable) {
        if (this.heldPackets >= this.packetBuffer) {
          this.stats.droppedPackets++;
          return;
        }
        this.heldPackets++;
      }
      this.stats.heldMessages++;
      this.held.push({ receiver, data, info });
    };
    const wrapped: Transport = {
      get packetBudget() {
        return t.packetBudget;
      },
      get address() {
        return t.address;
      },
      start: (receiver) => t.start({ onMessage: (data, info) => hold(receiver, data, info) }),
      sendPacket: (to, data) => t.sendPacket(to, data),
      sendReliable: (to, data) => t.sendReliable(to, data),
      close: () => t.close(),
    };
    if (t.connect) wrapped.connect = (to) => t.connect!(to);
    return wrapped;
  }

  private resume(): void {
    this.resumeTimer = undefined;
    // Node runs its timers phase before it polls the sockets: overdue timers first, then input.
    const timers = this.lateTimers;
    this.lateTimers = [];
    for (const d of timers) if (!d.cancelled) d.fn();
    const held = this.held;
    this.held = [];
    this.heldPackets = 0;
    for (const h of held) h.receiver.onMessage(h.data, h.info);
  }
}
