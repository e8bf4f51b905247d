/**
 * Time as the protocol sees it. The protocol never reads Date.now() or calls setTimeout itself:
 * everything goes through a Clock, so a simulation can swap in a virtual clock and replay a run.
 */
export interface TimerHandle {
  /** Cancel the timer; calling it after the timer fired is harmless. */
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch (a virtual clock may start anywhere it likes). */
  now(): number;
  /** Run `fn` once after `ms` milliseconds of this clock's time. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  /**
   * Optional: run `fn` once the current job is done (everything this turn has queued), before any
   * timer. What a zero-delay timer means, without a host timer's minimum delay (Node's
   * setTimeout(0) waits 1 ms, which a broadcast paid at every hop). Without it, callers use
   * setTimer(fn, 0).
   */
  soon?(fn: () => void): void;
}

/** `clock.soon(fn)`, or a zero-delay timer on a clock without it. */
export function runSoon(clock: Clock, fn: () => void): void {
  if (clock.soon) clock.soon(fn);
  else clock.setTimer(fn, 0);
}

/** The real clock: wall time and the host's timers. Used by the Cluster driver, never by tests of the protocol. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const h = setTimeout(fn, Math.max(0, ms));
    // Protocol timers must not keep a process alive on their own (Node's unref, where available).
    (h as { unref?: () => void }).unref?.();
    return { cancel: () => clearTimeout(h) };
  },
  // A microtask: it runs when the current callback (a received packet, a timer, the caller's
  // synchronous publishes) returns, so everything that turn queued still goes together.
  soon: (fn) => queueMicrotask(fn),
};
