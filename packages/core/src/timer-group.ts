import type { Clock, TimerHandle } from './clock.js';

/**
 * Timers owned by one component, cancelled together when it stops. A timer that fires after
 * stop() never runs its callback, so a stopped component cannot be woken by a stale timer.
 */
export class TimerGroup {
  private readonly live = new Set<TimerHandle>();
  private stopped = false;

  constructor(private readonly clock: Clock) {}

  set(fn: () => void, ms: number): TimerHandle {
    const h = this.clock.setTimer(() => {
      this.live.delete(h);
      if (!this.stopped) fn();
    }, ms);
    this.live.add(h);
    return h;
  }

  cancel(h: TimerHandle | undefined): void {
    if (!h) return;
    h.cancel();
    this.live.delete(h);
  }

  stop(): void {
    this.stopped = true;
    for (const h of this.live) h.cancel();
    this.live.clear();
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}
