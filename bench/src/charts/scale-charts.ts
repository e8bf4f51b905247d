/**
 * Charts of docs/scale.md from `pnpm bench:sim` output: detection, dissemination, per-node load and
 * memory against N, each beside the analytic SWIM figure or the Serf convergence model it is
 * compared with. Reads JSON-lines files (the last line per N and phase wins) and writes SVGs.
 *
 *   node bench/dist/charts/scale-charts.js --out docs/scale docs/bench-results/scale-sim-*.jsonl
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { lineChart, type ChartSpec, type Series } from './svg-chart.js';

type Row = Record<string, unknown>;

/** SWIM (Das et al. 2002): expected time to first detection is e/(e−1) protocol periods. */
export const SWIM_FIRST_DETECTION_PERIODS = Math.E / (Math.E - 1);
/** Serf's convergence simulator: 99.99% of 1,000 / 10,000 nodes in ~2.2 s / ~2.6 s (200 ms gossip, fanout 3). */
export const SERF_9999: [number, number][] = [
  [1000, 2200],
  [10000, 2600],
];

function load(files: string[]): Map<string, Row> {
  const byKey = new Map<string, Row>();
  for (const f of files) {
    for (const text of readFileSync(f, 'utf8').split('\n')) {
      if (text.trim() === '') continue;
      let row: Row;
      try {
        row = JSON.parse(text) as Row;
      } catch {
        throw new Error(`${f}: not a JSON line: ${text.slice(0, 80)}`);
      }
      if (row.bench !== 'sim' || typeof row.n !== 'number' || typeof row.phase !== 'string') continue;
      byKey.set(`${row.phase}:${row.n}`, row);
    }
  }
  return byKey;
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' } } });
  const out = values.out ?? 'docs/scale';
  if (positionals.length === 0) {
    process.stderr.write('usage: scale-charts.js --out DIR RESULTS.jsonl...\n');
    process.exit(2);
  }
  const rows = load(positionals);
  // Sizes with at least one finished phase: a run stopped by --max-wall (10,000 nodes on a small
  // machine, say) leaves only run/progress/stopped lines, and is charted only as far as it got.
  const partial = new Set(['run', 'create', 'progress', 'stopped', 'end']);
  const ns = [...new Set([...rows.values()].filter((r) => !partial.has(r.phase as string)).map((r) => r.n as number))].sort((a, b) => a - b);
  const series = (phase: string, field: string, name: string, scale = 1, perNode = false): Series => ({
    name,
    points: ns.flatMap((n): [number, number][] => {
      const v = rows.get(`${phase}:${n}`)?.[field];
      return typeof v === 'number' ? [[n, (v * scale) / (perNode ? n : 1)]] : [];
    }),
  });
  const model = (name: string, f: (n: number) => number): Series => ({ name, model: true, points: ns.map((n) => [n, f(n)]) });
  const probe = 1; // s: the lan profile's probeInterval, which every run charted here uses
  mkdirSync(out, { recursive: true });
  const write = (file: string, spec: ChartSpec): void => {
    if (!spec.series.some((s) => !s.model && s.points.length > 0)) {
      process.stderr.write(`${join(out, file)}: skipped, no run reached that phase\n`);
      return;
    }
    writeFileSync(join(out, file), lineChart(spec));
    process.stdout.write(`${join(out, file)}\n`);
  };

  write('detection.svg', {
    title: 'Crash detection (simulated, 5% loss)',
    xLabel: 'nodes N (log scale)',
    yLabel: 'seconds after the crash',
    series: [
      series('crash', 'first_suspect_ms', 'first suspect', 1 / 1000),
      series('crash', 'first_dead_ms', 'first dead', 1 / 1000),
      series('crash', 'all_dead_ms', 'dead at all', 1 / 1000),
      model('SWIM e/(e−1) periods', () => SWIM_FIRST_DETECTION_PERIODS * probe),
      model('+ Lifeguard min timeout', (n) => SWIM_FIRST_DETECTION_PERIODS * probe + 4 * Math.max(1, Math.log10(n)) * probe),
    ],
  });
  write('dissemination.svg', {
    title: 'Broadcast dissemination (simulated, 1 ms links)',
    xLabel: 'nodes N (log scale)',
    yLabel: 'simulated ms after the broadcast',
    series: [
      series('broadcast', 'p99_ms', '99% delivered'),
      series('broadcast', 'p9999_ms', '99.99% delivered'),
      series('broadcast', 'p100_ms', '100% delivered'),
      { name: 'Serf model 99.99%', model: true, points: SERF_9999 },
    ],
  });
  write('join.svg', {
    title: 'Mass join: every node joins at t=0',
    xLabel: 'nodes N (log scale)',
    yLabel: 'simulated s to a full view everywhere',
    series: [series('join', 'converged_99pct_ms', '99% of nodes full', 1 / 1000), series('join', 'converged_ms', 'all nodes full', 1 / 1000)],
  });
  write('load.svg', {
    title: 'Idle load per node (simulated)',
    xLabel: 'nodes N (log scale)',
    yLabel: 'packets sent per node per s',
    series: [
      series('loss', 'packets_per_node_s', 'steady, 60 s at 5% loss'),
      series('idle', 'packets_per_node_s', 'first 10 s after the join'),
      model('SWIM: ping + ack per period', () => 2 / probe),
    ],
  });
  write('load-bytes.svg', {
    title: 'Steady bytes and CPU per node (5% loss)',
    xLabel: 'nodes N (log scale)',
    yLabel: 'per node per simulated second',
    series: [
      series('loss', 'bytes_per_node_s', 'bytes sent (steady)'),
      series('loss', 'cpu_ms_per_sim_s', 'CPU µs (steady)', 1000, true),
    ],
  });
  write('memory.svg', {
    title: 'Memory of the simulation',
    xLabel: 'nodes N (log scale)',
    yLabel: 'bytes per member entry',
    series: [series('join', 'heap_bytes_per_member_entry', 'heap / N² entries'), { name: 'peak RSS / N²', points: ns.flatMap((n): [number, number][] => { const v = rows.get(`end:${n}`)?.peak_rss_mb ?? rows.get(`join:${n}`)?.peak_rss_mb; return typeof v === 'number' ? [[n, (v * 1048576) / (n * n)]] : []; }) }],
  });
}

main();
