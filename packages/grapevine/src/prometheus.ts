/**
 * Prometheus text exposition (format 0.0.4) of a cluster: its MemoryMetrics counters, gauges and
 * samples (dotted names become underscores), member counts by state, and transport counters.
 */
import { MemoryMetrics, type Cluster } from '@grapevine/core';

type Kind = 'counter' | 'gauge' | 'summary';

class Exposition {
  private readonly seen = new Set<string>();
  private readonly lines: string[] = [];

  family(name: string, kind: Kind, help: string, samples: [suffixAndLabels: string, value: number][]): void {
    const n = metricName(name);
    if (this.seen.has(n)) return; // two dotted names can collide once sanitized; keep the first
    this.seen.add(n);
    this.lines.push(`# HELP ${n} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${n} ${kind}`);
    for (const [tail, value] of samples) this.lines.push(`${n}${tail} ${formatValue(value)}`);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

/** "grapevine.drop.decode" → "grapevine_drop_decode"; anything outside [a-zA-Z0-9_:] → "_". */
export function metricName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export function renderPrometheus(cluster: Cluster): string {
  const out = new Exposition();
  const counts = cluster.counts();
  out.family('grapevine.members', 'gauge', 'Members known to this node, by state (self included).',
    (['alive', 'suspect', 'dead', 'left'] as const).map((s) => [`{state="${s}"}`, counts[s]]));
  out.family('grapevine.local.incarnation', 'gauge', "This node's incarnation number.", [['', cluster.localNode.incarnation]]);
  const m = cluster.metrics;
  if (m instanceof MemoryMetrics) {
    for (const [name, v] of [...m.counters].sort(byName)) out.family(name, 'counter', `Counter ${name}.`, [['', v]]);
    for (const [name, v] of [...m.gauges].sort(byName)) out.family(name, 'gauge', `Gauge ${name}.`, [['', v]]);
    for (const [name, s] of [...m.samples].sort(byName)) {
      out.family(name, 'summary', `Samples of ${name}.`, [['_sum', s.sum], ['_count', s.count]]);
      out.family(`${name}.max`, 'gauge', `Largest sample of ${name}.`, [['', s.max]]);
    }
  }
  const stats = (cluster.transport as { stats?: unknown }).stats;
  if (stats && typeof stats === 'object') {
    for (const [k, v] of Object.entries(stats as Record<string, unknown>).sort(byName)) {
      if (typeof v === 'number') out.family(`grapevine.transport.${snake(k)}`, 'counter', `Transport counter ${k}.`, [['', v]]);
    }
  }
  return out.text();
}

function byName(a: [string, unknown], b: [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
