/**
 * Hybrid logical clock. A timestamp is one number: wall milliseconds × 1024 + a logical counter
 * (10 bits). Wall time 2^53/1024 ms = 2^43 ms is about the year 2248, so it stays an exact integer
 * until then (see HLC_MAX). When more than 1024 events land in one millisecond, the wall part is
 * borrowed forward by a millisecond; that is the usual HLC drift, bounded by the event rate.
 */
export const HLC_LOGICAL_BITS = 10;
const SCALE = 1 << HLC_LOGICAL_BITS;

export function hlcWall(ts: number): number {
  return Math.floor(ts / SCALE);
}
export function hlcLogical(ts: number): number {
  return ts % SCALE;
}

/**
 * Largest timestamp taken from a peer or from the wall clock. It leaves 2^40 local ticks below
 * 2^53, so a timestamp near Number.MAX_SAFE_INTEGER (from a bad peer or clock) can not push the
 * clock to where `last + 1` no longer increases. Anything larger, negative or not an integer is
 * ignored.
 */
export const HLC_MAX = 2 ** 53 - 2 ** 40;

export class HybridLogicalClock {
  private last = 0;
  constructor(private readonly wallNow: () => number) {}

  /** Wall time as a timestamp with a zero logical part; 0 (ignored) when the clock reads garbage. */
  private physical(): number {
    const p = Math.floor(this.wallNow()) * SCALE;
    return p >= 0 && p <= HLC_MAX ? p : 0; // NaN fails both tests
  }

  /** A timestamp for a local event: strictly greater than every timestamp seen or issued. */
  now(): number {
    const physical = this.physical();
    this.last = physical > this.last ? physical : this.last + 1;
    return this.last;
  }

  /** Merge a remote timestamp; later local timestamps are greater than it. Returns the new time. */
  observe(remote: number): number {
    if (!Number.isSafeInteger(remote) || remote < 0 || remote > HLC_MAX) return this.last;
    const physical = this.physical();
    const max = Math.max(physical, remote, this.last);
    this.last = max === physical && physical > this.last && physical > remote ? physical : max + 1;
    return this.last;
  }

  peek(): number {
    return this.last;
  }
}
