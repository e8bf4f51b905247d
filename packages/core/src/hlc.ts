/**
 * Hybrid logical clock. A timestamp is one number: wall milliseconds × 1024 + a logical counter
 * (10 bits). Wall time 2^53/1024 ms is year 280,000, so it stays an exact integer. When more than
 * 1024 events land in one millisecond, the wall part is borrowed forward by a millisecond; that is
 * the usual HLC drift, bounded by the event rate.
 */
export const HLC_LOGICAL_BITS = 10;
const SCALE = 1 << HLC_LOGICAL_BITS;

export function hlcWall(ts: number): number {
  return Math.floor(ts / SCALE);
}
export function hlcLogical(ts: number): number {
  return ts % SCALE;
}

export class HybridLogicalClock {
  private last = 0;
  constructor(private readonly wallNow: () => number) {}

  /** A timestamp for a local event: strictly greater than every timestamp seen or issued. */
  now(): number {
    const physical = Math.floor(this.wallNow()) * SCALE;
    this.last = physical > this.last ? physical : this.last + 1;
    return this.last;
  }

  /** Merge a remote timestamp; later local timestamps are greater than it. Returns the new time. */
  observe(remote: number): number {
    if (!Number.isSafeInteger(remote) || remote < 0) return this.last;
    const physical = Math.floor(this.wallNow()) * SCALE;
    const max = Math.max(physical, remote, this.last);
    this.last = max === physical && physical > this.last && physical > remote ? physical : max + 1;
    return this.last;
  }

  peek(): number {
    return this.last;
  }
}
