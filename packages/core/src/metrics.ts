/**
 * A small metrics sink. Names are dotted (`grapevine.drop.decode`); labels are optional.
 * The default implementation keeps counters and gauges in memory so they can be read back.
 */
export interface Metrics {
  increment(name: string, by?: number): void;
  gauge(name: string, value: number): void;
  /** A duration or size sample (milliseconds or bytes). */
  observe(name: string, value: number): void;
}

export class MemoryMetrics implements Metrics {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();
  readonly samples = new Map<string, { count: number; sum: number; max: number }>();
  increment(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }
  gauge(name: string, value: number): void {
    this.gauges.set(name, value);
  }
  observe(name: string, value: number): void {
    const s = this.samples.get(name) ?? { count: 0, sum: 0, max: -Infinity };
    s.count++;
    s.sum += value;
    if (value > s.max) s.max = value;
    this.samples.set(name, s);
  }
  counter(name: string): number {
    return this.counters.get(name) ?? 0;
  }
}
