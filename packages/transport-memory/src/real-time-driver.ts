import { GrapevineError } from '@grapevine/core';
import type { VirtualClock } from './virtual-clock.js';

export interface RealTimeDriverOptions {
  /** How often (real ms) to advance the clock. Default 2. */
  intervalMs?: number;
  /** Virtual ms per real ms. Default 1 (virtual time keeps pace with the wall). */
  speed?: number;
  /** Told when an advance() rejects (say, maxTimersPerAdvance was hit). The driver keeps going. */
  onError?: (err: unknown) => void;
}

export interface RealTimeDriver {
  /**
   * Stop advancing; idempotent. Resolves once an advance already under way has finished, so the
   * clock is still from then on.
   */
  stop(): Promise<void>;
}

/**
 * Advance a VirtualClock as real time passes. For code that waits on real events (the shared
 * transport conformance suite, an interactive demo) rather than stepping the clock itself.
 * Runs are no longer replayable: how time is sliced depends on the host's scheduling.
 * The interval is unref'd so a forgotten driver never keeps a Node process alive.
 */
export function realTimeDriver(clock: VirtualClock, options: RealTimeDriverOptions = {}): RealTimeDriver {
  const intervalMs = options.intervalMs ?? 2;
  const speed = options.speed ?? 1;
  if (!(intervalMs > 0) || !(speed > 0)) {
    throw new GrapevineError('ERR_INVALID_OPTION', 'realTimeDriver: intervalMs and speed must be positive');
  }
  let last = performance.now();
  let owed = 0; // virtual ms earned but not yet advanced (fractions, or time spent while busy)
  let running: Promise<void> | undefined; // the advance under way, if any
  let stopped = false;
  const tick = (): void => {
    if (stopped || running !== undefined) return;
    const t = performance.now();
    owed += (t - last) * speed;
    last = t;
    const step = Math.floor(owed);
    if (step <= 0) return;
    owed -= step;
    running = clock.advance(step).then(
      () => {
        running = undefined;
      },
      (err: unknown) => {
        running = undefined;
        options.onError?.(err);
      },
    );
  };
  const handle = setInterval(tick, intervalMs);
  (handle as { unref?: () => void }).unref?.();
  return {
    async stop() {
      if (!stopped) {
        stopped = true;
        clearInterval(handle);
      }
      await running;
    },
  };
}
