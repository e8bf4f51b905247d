import type { Clock, TimerHandle } from '../clock.js';

/**
 * Lifeguard's dynamic suspicion timeout. A suspicion starts with the maximum timeout and shrinks,
 * logarithmically, toward the minimum as independent members confirm it; k confirmations reach the
 * minimum. A node that is really dead is declared quickly once several peers agree; a node that
 * only one slow peer suspects gets a long time to refute.
 */
export function suspicionTimeout(min: number, max: number, k: number, confirmations: number): number {
  if (k < 1) return min;
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  return Math.max(min, Math.floor(max - frac * (max - min)));
}

/** The minimum timeout: mult × max(1, log10 N) × probeInterval. */
export function minSuspicionTimeout(mult: number, n: number, probeInterval: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(mult * scale * probeInterval);
}

export class Suspicion {
  private readonly confirmers = new Set<string>();
  private timer: TimerHandle | undefined;
  private readonly start: number;
  /** When the timer now armed fires (clock ms); moves earlier with each confirmation. */
  private deadlineAt = 0;
  private fired = false;

  constructor(
    from: string,
    private readonly k: number,
    private readonly min: number,
    private readonly max: number,
    private readonly clock: Clock,
    private readonly onTimeout: (confirmations: number) => void,
  ) {
    // The suspecter itself is not an independent confirmation.
    this.confirmers.add(from);
    this.start = clock.now();
    this.arm(k < 1 ? min : max);
  }

  private arm(total: number): void {
    this.timer?.cancel();
    const remaining = total - (this.clock.now() - this.start);
    this.deadlineAt = this.start + total;
    this.timer = this.clock.setTimer(() => this.fire(), Math.max(0, remaining));
  }

  private fire(): void {
    if (this.fired) return;
    this.fired = true;
    this.onTimeout(this.confirmers.size - 1);
  }

  /** Record a confirmation; returns true when it is new (worth re-gossiping). */
  confirm(from: string): boolean {
    if (this.fired || this.confirmers.size - 1 >= this.k || this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    this.arm(suspicionTimeout(this.min, this.max, this.k, this.confirmers.size - 1));
    return true;
  }

  get confirmations(): number {
    return this.confirmers.size - 1;
  }

  /** When the suspicion was raised (clock ms). */
  get startedAt(): number {
    return this.start;
  }

  /** When it will declare the member dead unless refuted (clock ms). */
  get deadline(): number {
    return this.deadlineAt;
  }

  /** False once it fired or was cancelled. */
  get running(): boolean {
    return !this.fired;
  }

  cancel(): void {
    this.fired = true;
    this.timer?.cancel();
  }
}
