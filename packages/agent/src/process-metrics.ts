/**
 * prom-client's process and Node.js metrics for `/metrics`, all of `collectDefaultMetrics()`'s
 * families but its event-loop-lag gauges (`nodejs_eventloop_lag_*`).
 *
 * Why not collectDefaultMetrics(): its event-loop-lag collector reads the mean, standard deviation
 * and three percentiles of a `monitorEventLoopDelay` histogram on every scrape, and each of those
 * walks the whole HDR histogram: measured at 0.4 to 1.6 ms of CPU per scrape on this project's
 * machines, the largest single cost of a scrape and most of its tail (docs/benchmarks.md, "/metrics
 * scrape"). The monitor also wakes the event loop every 10 ms while nobody scrapes. The agent
 * already exports the same information as a histogram, grapevine_event_loop_delay_seconds
 * (prometheus.ts), sampled every 100 ms at no cost to the scrape; `histogram_quantile()` over it
 * gives the percentiles those gauges carried.
 *
 * prom-client has no option to leave one default collector out, so the others are registered one
 * by one from its `lib/metrics/` modules (stable since prom-client 12; the major is pinned in
 * package.json, and a test checks every family below is present, so a layout change fails CI
 * instead of silently dropping metrics).
 */
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';

type Collector = (registry: Registry, config: Record<string, unknown>) => void;

/** collectDefaultMetrics()'s collectors minus eventLoopLag, in its order. */
const COLLECTORS = [
  'processCpuTotal',
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'processResources',
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
] as const;

const require = createRequire(import.meta.url);

export function registerProcessMetrics(registry: Registry): void {
  for (const name of COLLECTORS) {
    // processResources needs process.getActiveResourcesInfo (Node >= 17), which Node 20 has.
    const collector = require(`prom-client/lib/metrics/${name}.js`) as Collector;
    collector(registry, { register: registry });
  }
}
