/**
 * The wall clock the bus's HLC reads, read once per turn of publishes instead of once per publish.
 *
 * Every publish stamps its key with the origin's HLC, and the HLC reads the wall clock. On Node,
 * Date.now() costs 50–70 ns, a tenth of a distinct-key publish and a third of a hot-key one. Within
 * one synchronous run of the event loop (a turn: a callback and the microtasks it queues) the bus
 * reuses the first reading, and reads again after REREAD_EVERY uses, so a long loop of publishes
 * still follows the wall clock. The HLC keeps versions strictly increasing either way; what the
 * reuse adds is a small lag of the wall part, the length of the turn so far, bounded like a clock
 * skew (a later write on another node is newer as long as it is later by more than that).
 *
 * Turn ends are seen through the clock's `soon` (a microtask on the real clock). A clock without
 * it — the simulator's virtual clock, whose reads are cheap and whose time does not move within a
 * turn — is read every time.
 */
import type { Clock } from '@grapevine/core';

/** Uses of one reading within a turn before the wall clock is read again. */
export const REREAD_EVERY = 64;

export class TurnClock {
  private reading = 0;
  /** Uses of `reading` left; 0 = read the clock at the next call. */
  private left = 0;
  /** A turn-end callback is queued (the reading is dropped when it runs). */
  private armed = false;
  private readonly expire = (): void => {
    this.armed = false;
    this.left = 0;
  };

  constructor(private readonly clock: Clock) {}

  /** Milliseconds, as clock.now(), possibly read earlier in this turn. */
  now(): number {
    if (this.left > 0) {
      this.left--;
      return this.reading;
    }
    this.reading = this.clock.now();
    if (this.clock.soon) {
      this.left = REREAD_EVERY - 1;
      if (!this.armed) {
        this.armed = true;
        this.clock.soon(this.expire);
      }
    }
    return this.reading;
  }
}
