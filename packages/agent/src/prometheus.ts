/**
 * Prometheus text exposition (format 0.0.4) of a cluster: its MemoryMetrics counters, gauges and
 * samples (dotted names and dashes become underscores: grapevine.drop.auth-failed →
 * grapevine_drop_auth_failed), member counts by state, transport counters and, with multicast
 * discovery on, its counters (grapevine_multicast_*). The inbound drop
 * counters and grapevine.internal-error are always present (0 until the first one), so alerts can
 * refer to them before anything was dropped.
 */
import { MemoryMetrics, type Cluster } from '@grapevine/core';
import { multicastStats } from '@grapevine/node/internal';

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

/** Why the receive path refuses an inbound envelope or message (docs/protocol.md, docs/security.md). */
export const DROP_REASONS: Readonly<Record<string, string>> = Object.freeze({
  truncated: 'shorter than its header says',
  'bad-version': 'unknown envelope version',
  'reserved-flags': 'reserved flag bits set',
  'unsupported-flags': 'a flag this node cannot handle (encrypted or compressed without the matching option)',
  'wrong-codec': 'written by another codec',
  'bad-compound': 'malformed compound layout',
  'too-many-parts': 'compound with more parts than maxCompoundParts',
  'wrong-label': 'another cluster label (or none)',
  'not-encrypted': 'not sealed while this node requires encryption',
  'unknown-key': 'sealed with a key (or cipher) this node does not hold',
  'auth-failed': 'AEAD tag did not verify (tampered, truncated, or forged)',
  replay: 'sealed envelope seen before (replayed)',
  stale: 'sealed timestamp outside maxClockSkew',
  decompress: 'malformed or oversized compressed body',
  decode: 'codec could not decode a message',
  invalid: 'message of a known type with invalid fields',
  'unknown-type': 'message of an unknown type',
});

function counterHelp(name: string): string {
  if (name.startsWith('grapevine.drop.')) {
    const reason = name.slice('grapevine.drop.'.length);
    const why = DROP_REASONS[reason];
    return `Inbound envelopes or messages dropped: ${reason}${why ? ` (${why})` : ''}.`;
  }
  if (name === 'grapevine.internal-error') return 'Errors thrown while handling a message (a bug; should stay 0).';
  return `Counter ${name}.`;
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
    const counters = new Map(m.counters);
    for (const reason of Object.keys(DROP_REASONS)) if (!counters.has(`grapevine.drop.${reason}`)) counters.set(`grapevine.drop.${reason}`, 0);
    if (!counters.has('grapevine.internal-error')) counters.set('grapevine.internal-error', 0);
    for (const [name, v] of [...counters].sort(byName)) out.family(name, 'counter', counterHelp(name), [['', v]]);
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
  const multicast = multicastStats(cluster);
  if (multicast !== undefined) {
    for (const [k, v] of Object.entries(multicast).sort(byName)) {
      if (typeof v === 'number') out.family(`grapevine.multicast.${snake(k)}`, 'counter', `Multicast discovery counter ${k}.`, [['', v]]);
    }
  }
  return out.text();
}

function byName(a: [string, unknown], b: [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
