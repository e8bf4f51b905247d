/**
 * Lifeguard local health. A node that misses acks and nacks is probably the slow one (overloaded,
 * paused, losing packets), so it stretches its own probe timing instead of accusing healthy peers.
 * The score runs from 0 (healthy) to max-1; timeouts are multiplied by score+1.
 */
export class Awareness {
  private score = 0;
  constructor(private readonly max: number) {}

  applyDelta(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  get health(): number {
    return this.score;
  }

  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}
