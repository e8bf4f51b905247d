/**
 * The agent's sink for core's Metrics interface. Counters and gauges stay in MemoryMetrics (cheap
 * on the hot path: a Map update; the exporter reads them at scrape time), while every `observe()`
 * also lands in a prom-client Histogram, since a histogram needs each sample and cannot be
 * rebuilt from a sum and a count later. Known sample names get units and buckets that fit them;
 * any other name gets prom-client's default buckets in the sample's own unit.
 */
import { MemoryMetrics } from '@grapevine/core';
import { Histogram, Registry } from 'prom-client';
import { metricName } from './metric-names.js';

interface HistogramSpec {
  /** The Prometheus name. */
  name: string;
  help: string;
  buckets: number[];
  /** Converts an observed value (core's unit) to the exported one. */
  scale: number;
}

/** Core's sample names with their exported form (docs/metrics.md). */
const KNOWN: Readonly<Record<string, HistogramSpec>> = {
  'grapevine.probe.rtt': {
    name: 'grapevine_probe_rtt_seconds',
    help: 'Round-trip time of direct probes (ping sent to ack received), in seconds.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    scale: 1 / 1000,
  },
};

export class AgentMetrics extends MemoryMetrics {
  /** Where the histograms live; the exporter adds its own collectors to the same registry. */
  readonly registry: Registry;
  private readonly histograms = new Map<string, { h: Histogram; scale: number } | null>();

  constructor(registry: Registry = new Registry()) {
    super();
    this.registry = registry;
  }

  override observe(name: string, value: number): void {
    super.observe(name, value);
    if (!Number.isFinite(value)) return;
    let entry = this.histograms.get(name);
    if (entry === undefined) {
      entry = this.create(name);
      this.histograms.set(name, entry);
    }
    entry?.h.observe(value * entry.scale);
  }

  /** Sample names that have a histogram (the exporter skips them when it renders MemoryMetrics samples). */
  hasHistogram(name: string): boolean {
    return this.histograms.get(name) != null;
  }

  private create(name: string): { h: Histogram; scale: number } | null {
    const spec = KNOWN[name] ?? { name: metricName(name), help: `Samples of ${name}.`, buckets: [1, 5, 10, 50, 100, 500, 1000, 5000], scale: 1 };
    // Two dotted names may collide once sanitized, or collide with an exporter family: keep the first.
    if (this.registry.getSingleMetric(spec.name) !== undefined) return null;
    const h = new Histogram({ name: spec.name, help: spec.help, buckets: spec.buckets, registers: [this.registry] });
    return { h, scale: spec.scale };
  }
}
