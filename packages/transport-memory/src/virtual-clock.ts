import { GrapevineError, type Clock, type TimerHandle } from '@grapevine/core';
import { nextMacrotask } from './macrotask.js';
import { TimerQueue } from './timer-queue.js';

export interface VirtualClockOptions {
  /** What now() returns before the first advance (ms since the epoch). Default 1_700_000_000_000. */
  start?: number;
  /**
   * Most timer callbacks one advance()/runUntil() may run before it gives up and rejects. Catches a
   * timer that keeps re-arming itself with zero delay, which would otherwise spin forever at one
   * instant. Default 10,000,000.
   */
  maxTimersPerAdvance?: number;
  /**
   * When pending microtasks (promise continuations) get to run:
   * - 'instant' (default): after all timers due at the same virtual instant have fired, before
   *   time moves on. About one host macrotask per distinct due time.
   * - 'timer': after every single timer callback, like a real event loop. Closest to production
   *   ordering; costs about a microsecond more per timer.
   */
  flush?: 'instant' | 'timer';
  /** Told about every exception a timer callback throws (they are also counted in `errors`). */
  onError?: (err: unknown) => void;
}

export interface RunUntilOptions {
  /** Give up after this much virtual time (ms). */
  timeout: number;
  /**
   * Check the predicate only every `step` virtual ms. Default: after every instant at which a timer
   * fired, so the clock stops at the first moment the predicate holds.
   */
  step?: number;
}

export const DEFAULT_VIRTUAL_EPOCH = 1_700_000_000_000;

/**
 * A Clock whose time moves only when a test says so. Timers fire in (due time, order set) order,
 * so a run is a pure function of the calls made, and hours of protocol time take milliseconds.
 *
 * Time is kept in whole milliseconds, like Date.now(): delays are rounded up, never down, so a
 * timer never fires early.
 */
export class VirtualClock implements Clock {
  private current: number;
  private readonly queue = new TimerQueue();
  private readonly maxTimers: number;
  private readonly flushEachTimer: boolean;
  private readonly onError: ((err: unknown) => void) | undefined;
  /** advance() calls run one after another, never interleaved (a driver and a test may both call it). */
  private tail: Promise<unknown> = Promise.resolve();
  private errorCount = 0;
  private firedCount = 0;
  /** The most recent exception thrown by a timer callback. */
  lastError: unknown = undefined;

  constructor(options: VirtualClockOptions = {}) {
    const start = options.start ?? DEFAULT_VIRTUAL_EPOCH;
    if (!Number.isFinite(start)) throw new GrapevineError('ERR_INVALID_OPTION', 'VirtualClock: start must be finite');
    this.current = Math.floor(start);
    this.maxTimers = options.maxTimersPerAdvance ?? 10_000_000;
    if (!(this.maxTimers > 0)) {
      throw new GrapevineError('ERR_INVALID_OPTION', 'VirtualClock: maxTimersPerAdvance must be positive');
    }
    this.flushEachTimer = options.flush === 'timer';
    this.onError = options.onError;
  }

  now(): number {
    return this.current;
  }

  /** The `flush` option this clock was made with. */
  get flushMode(): 'instant' | 'timer' {
    return this.flushEachTimer ? 'timer' : 'instant';
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    // Like setTimeout: negative or NaN delays mean "as soon as possible"; Infinity never fires.
    const delay = ms > 0 ? Math.ceil(ms) : 0;
    return this.queue.add(fn, this.current + delay);
  }

  /** Timers set and neither fired nor cancelled. */
  get pending(): number {
    return this.queue.pending;
  }

  /** Exceptions thrown by timer callbacks so far (each was caught; the clock carried on). */
  get errors(): number {
    return this.errorCount;
  }

  /** Timer callbacks run so far, over the clock's whole life. */
  get fired(): number {
    return this.firedCount;
  }

  /** Due time of the next live timer, or undefined when none is set. */
  nextTimerAt(): number | undefined {
    return this.queue.peek()?.due;
  }

  /**
   * Move time forward by `ms`, firing every timer due up to the new time in order. now() reads each
   * timer's due time while it runs. Resolves once time has reached now+ms and microtasks settled.
   */
  advance(ms: number): Promise<void> {
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      return Promise.reject(new GrapevineError('ERR_INVALID_OPTION', `VirtualClock.advance: bad duration ${ms}`));
    }
    return this.serialize(async () => {
      await this.runTo(this.current + Math.ceil(ms), undefined);
    });
  }

  /**
   * Advance until `predicate()` holds or `timeout` virtual ms have passed; resolves with whether it
   * held. Checked once before any time passes. On success the clock stays at the first instant
   * (or step) at which the predicate was seen true, so `now()` tells how long it took.
   */
  runUntil(predicate: () => boolean, options: RunUntilOptions): Promise<boolean> {
    const { timeout, step } = options;
    if (!(timeout >= 0) || !Number.isFinite(timeout)) {
      return Promise.reject(new GrapevineError('ERR_INVALID_OPTION', `VirtualClock.runUntil: bad timeout ${timeout}`));
    }
    if (step !== undefined && (!(step > 0) || !Number.isFinite(step))) {
      return Promise.reject(new GrapevineError('ERR_INVALID_OPTION', `VirtualClock.runUntil: bad step ${step}`));
    }
    return this.serialize(async () => {
      if (predicate()) return true;
      const deadline = this.current + Math.ceil(timeout);
      if (step === undefined) return this.runTo(deadline, predicate);
      const stride = Math.ceil(step);
      while (this.current < deadline) {
        await this.runTo(Math.min(this.current + stride, deadline), undefined);
        if (predicate()) return true;
      }
      return false;
    });
  }

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Fire timers due up to `target`. With a `stop` predicate, checks it each time microtasks have
   * settled and returns true (leaving now() where it is) as soon as it holds.
   */
  private async runTo(target: number, stop: (() => boolean) | undefined): Promise<boolean> {
    let fired = 0;
    let settled = false; // microtasks have drained since the last callback ran
    for (;;) {
      const next = this.queue.peek();
      if (next === undefined || next.due > target) break;
      if (++fired > this.maxTimers) {
        throw new Error(
          `VirtualClock: more than ${this.maxTimers} timers fired in one advance at t=${this.current} ` +
            '(a timer re-arming itself with zero delay?); raise maxTimersPerAdvance if this is intended',
        );
      }
      this.current = next.due;
      const fn = this.queue.take(next);
      this.firedCount++;
      settled = false;
      try {
        fn();
      } catch (err) {
        this.errorCount++;
        this.lastError = err;
        try {
          this.onError?.(err);
        } catch {
          // An error hook that throws must not stop the clock either.
        }
      }
      // Let promise continuations of what just ran settle before time moves (or, with
      // flush 'timer', before the next callback), as an event loop would.
      if (this.flushEachTimer || this.queue.peek()?.due !== this.current) {
        await nextMacrotask();
        settled = true;
        if (stop?.()) return true;
      }
    }
    if (target > this.current) this.current = target;
    // Also when nothing fired: `await clock.advance(0)` is how a test lets its own promises settle.
    if (!settled || fired === 0) await nextMacrotask();
    return stop?.() ?? false;
  }
}
