import type { Clock, TimerHandle } from '@grapevine/core';

/** A clock that only moves when told to: enough for unit tests of timer-driven rules. */
export class ManualClock implements Clock {
  t = 1_000_000;
  private timers: { due: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): TimerHandle {
    const rec = { due: this.t + ms, fn, live: true };
    this.timers.push(rec);
    return { cancel: () => (rec.live = false) };
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.live && x.due <= end).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      next.live = false;
      this.t = next.due;
      next.fn();
    }
    this.t = end;
  }
}
