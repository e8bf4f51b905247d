/**
 * `GET /metrics` with prom-client: one Registry per cluster holding
 * - member counts by state, the local incarnation and Lifeguard awareness, broadcast queue depths;
 * - core's counters and gauges (MemoryMetrics, dotted names sanitized: grapevine.drop.auth-failed →
 *   grapevine_drop_auth_failed), with every inbound drop reason present from the start, plus the
 *   same drops as one labelled family grapevine_drops_total{reason};
 * - histograms of core's samples (AgentMetrics: grapevine_probe_rtt_seconds);
 * - suspicions, refuted suspicions and deaths of other members as this node saw them;
 * - transport counters (per key, and packets / bytes by path: packet = UDP datagrams, reliable =
 *   TCP or WebSocket frames), multicast discovery counters when it runs;
 * - an event-loop delay histogram and prom-client's process metrics (`processMetrics`; all of its
 *   defaults but its event-loop-lag gauges, see process-metrics.ts).
 * Values are read from the cluster when Prometheus scrapes (collect callbacks), so the hot path
 * only ever touches MemoryMetrics' Maps. The transport's stats object is built by a getter, so a
 * scrape reads it once and every transport family takes its numbers from that one snapshot.
 * docs/metrics.md lists every family.
 */
import type { Cluster, MemberEvent } from '@grapevine/core';
import { MemoryMetrics } from '@grapevine/core';
import { multicastStats } from '@grapevine/node/internal';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { AgentMetrics } from './metrics.js';
import { registerProcessMetrics } from './process-metrics.js';
import { DROP_REASONS, counterHelp, metricName, snake } from './metric-names.js';

export { DROP_REASONS, metricName } from './metric-names.js';

export interface PrometheusExporterOptions {
  /** prom-client's process metrics (CPU, memory, handles, GC, event-loop lag gauges). Default true. */
  processMetrics?: boolean;
  /** Sample the event loop's delay into grapevine_event_loop_delay_seconds every this many ms (0: off). Default 100. */
  eventLoopSampleMs?: number;
}

const STATES = ['alive', 'suspect', 'dead', 'left'] as const;
const DROP_PREFIX = 'grapevine.drop.';

export class PrometheusExporter {
  readonly registry: Registry;
  private readonly samples: Registry | undefined;
  /** Families registered by the exporter itself (sanitized names), so dynamic ones never collide with them. */
  private readonly dynamic = new Set<string>();
  private readonly offs: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The transport's stats for the scrape under way (render() clears it). */
  private stats: Record<string, unknown> | undefined;
  private readonly suspicions: Counter;
  private readonly refuted: Counter;
  private readonly deaths: Counter;

  constructor(private readonly cluster: Cluster, opts: PrometheusExporterOptions = {}) {
    const metrics = cluster.metrics;
    // Its own registry (two exporters of one cluster never collide); AgentMetrics' histograms are
    // appended from theirs at render time.
    this.registry = new Registry();
    this.samples = metrics instanceof AgentMetrics ? metrics.registry : undefined;
    const reg = [this.registry];
    new Gauge({
      name: 'grapevine_members', help: 'Members known to this node, by state (self included).', labelNames: ['state'], registers: reg,
      collect() {
        const counts = cluster.counts();
        for (const s of STATES) this.set({ state: s }, counts[s]);
      },
    });
    new Gauge({ name: 'grapevine_local_incarnation', help: "This node's incarnation number.", registers: reg, collect() { this.set(cluster.localNode.incarnation); } });
    new Gauge({
      name: 'grapevine_local_awareness', help: 'Lifeguard local health score: 0 is healthy; probe timeouts are multiplied by score+1.', registers: reg,
      collect() { this.set(cluster.node.awareness.health); },
    });
    new Gauge({
      name: 'grapevine_broadcast_queue_depth', help: 'Messages waiting to be piggybacked: membership gossip and user broadcasts.', labelNames: ['queue'], registers: reg,
      collect() {
        this.set({ queue: 'membership' }, cluster.node.queue.size);
        this.set({ queue: 'user' }, cluster.node.messenger.queue.size);
      },
    });
    this.suspicions = new Counter({ name: 'grapevine_member_suspicions_total', help: 'Other members this node saw become suspect.', registers: reg });
    this.refuted = new Counter({ name: 'grapevine_member_suspicions_refuted_total', help: 'Other members this node saw go from suspect back to alive (the suspicion was refuted).', registers: reg });
    this.deaths = new Counter({ name: 'grapevine_member_deaths_total', help: 'Other members this node saw declared dead.', registers: reg });
    const self = cluster.name;
    const onChange = (ev: MemberEvent): void => {
      if (ev.member.name === self) return;
      if (ev.type === 'suspect' && ev.previous !== 'suspect') this.suspicions.inc();
      else if (ev.type === 'alive' && ev.previous === 'suspect') this.refuted.inc();
      else if (ev.type === 'dead') this.deaths.inc();
    };
    this.offs.push(cluster.on('change', onChange));

    new Counter({
      name: 'grapevine_drops_total', help: 'Inbound envelopes or messages dropped, by reason (the same counts as grapevine_drop_<reason>).', labelNames: ['reason'], registers: reg,
      collect() {
        this.reset();
        for (const reason of Object.keys(DROP_REASONS)) this.inc({ reason }, 0);
        if (!(metrics instanceof MemoryMetrics)) return;
        for (const [name, v] of metrics.counters) if (name.startsWith(DROP_PREFIX)) this.inc({ reason: name.slice(DROP_PREFIX.length) }, v);
      },
    });
    const transportStats = (): Record<string, unknown> => this.transportStats();
    const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    new Counter({
      name: 'grapevine_transport_messages_total', help: 'Packets and reliable frames sent and received, by path (packet: UDP datagrams; reliable: TCP or WebSocket frames).', labelNames: ['path', 'direction'], registers: reg,
      collect() {
        const s = transportStats();
        this.reset();
        this.inc({ path: 'packet', direction: 'sent' }, num(s.packetsSent));
        this.inc({ path: 'packet', direction: 'received' }, num(s.packetsReceived));
        this.inc({ path: 'reliable', direction: 'sent' }, num(s.reliableSent));
        this.inc({ path: 'reliable', direction: 'received' }, num(s.reliableReceived));
      },
    });
    new Counter({
      name: 'grapevine_transport_bytes_sent_total', help: 'Bytes sent, by path (packet, reliable).', labelNames: ['path'], registers: reg,
      collect() {
        const s = transportStats();
        this.reset();
        this.inc({ path: 'packet' }, num(s.packetBytesSent));
        this.inc({ path: 'reliable' }, num(s.reliableBytesSent));
      },
    });
    for (const m of this.registry.getMetricsAsArray()) this.dynamic.add(m.name);

    const sampleMs = opts.eventLoopSampleMs ?? 100;
    if (sampleMs > 0) {
      const delay = new Histogram({
        name: 'grapevine_event_loop_delay_seconds', help: `How late a timer due every ${sampleMs} ms ran: the event loop's delay, in seconds.`, registers: reg,
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      });
      this.dynamic.add('grapevine_event_loop_delay_seconds');
      let expected = performance.now() + sampleMs;
      this.timer = setInterval(() => {
        const now = performance.now();
        delay.observe(Math.max(0, now - expected) / 1000);
        expected = now + sampleMs;
      }, sampleMs);
      this.timer.unref();
    }
    if (opts.processMetrics ?? true) registerProcessMetrics(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; new dotted counter and gauge names get their families first. */
  async render(): Promise<string> {
    this.stats = undefined;
    this.syncDynamic();
    // Every collect callback runs inside this call before its first await, so one snapshot of
    // the transport's stats serves them all; cleared afterwards so the next scrape reads anew.
    const pending = this.registry.metrics();
    this.stats = undefined;
    const own = await pending;
    const text = this.samples ? own + (await this.samples.metrics()) : own;
    // prom-client ends each family with a blank line; the format allows them, but strict parsers
    // (and our tests) read one sample or comment per line.
    return text.replace(/\n{2,}/g, '\n');
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The transport's counters (UdpTcpTransport builds a new object per read), read once per scrape. */
  private transportStats(): Record<string, unknown> {
    if (this.stats === undefined) {
      const s = (this.cluster.transport as { stats?: unknown }).stats;
      this.stats = s && typeof s === 'object' ? (s as Record<string, unknown>) : {};
    }
    return this.stats;
  }

  /** A family per MemoryMetrics counter and gauge name, per transport counter and multicast counter. */
  private syncDynamic(): void {
    const metrics = this.cluster.metrics;
    const reg = [this.registry];
    const add = (name: string, kind: 'counter' | 'gauge', help: string, read: () => number): void => {
      if (this.dynamic.has(name)) return;
      this.dynamic.add(name);
      if (this.registry.getSingleMetric(name) !== undefined || this.samples?.getSingleMetric(name) !== undefined) return; // taken (an AgentMetrics histogram)
      if (kind === 'counter') new Counter({ name, help, registers: reg, collect() { this.reset(); this.inc(Math.max(0, read())); } });
      else new Gauge({ name, help, registers: reg, collect() { this.set(read()); } });
    };
    if (metrics instanceof MemoryMetrics) {
      const names = new Set(metrics.counters.keys());
      for (const reason of Object.keys(DROP_REASONS)) names.add(`${DROP_PREFIX}${reason}`);
      names.add('grapevine.internal-error');
      for (const name of names) add(metricName(name), 'counter', counterHelp(name), () => metrics.counters.get(name) ?? 0);
      for (const name of metrics.gauges.keys()) add(metricName(name), 'gauge', `Gauge ${name}.`, () => metrics.gauges.get(name) ?? 0);
      if (!(metrics instanceof AgentMetrics)) {
        for (const name of metrics.samples.keys()) {
          add(metricName(`${name}.count`), 'counter', `Samples of ${name}.`, () => metrics.samples.get(name)?.count ?? 0);
          add(metricName(`${name}.sum`), 'counter', `Sum of the samples of ${name}.`, () => metrics.samples.get(name)?.sum ?? 0);
        }
      }
    }
    for (const [k, v] of Object.entries(this.transportStats())) {
      if (typeof v !== 'number') continue;
      add(`grapevine_transport_${snake(k)}`, 'counter', `Transport counter ${k}.`, () => {
        const now = this.transportStats()[k];
        return typeof now === 'number' ? now : 0;
      });
    }
    const multicast = multicastStats(this.cluster);
    if (multicast !== undefined) {
      for (const [k, v] of Object.entries(multicast)) {
        if (typeof v !== 'number') continue;
        add(`grapevine_multicast_${snake(k)}`, 'counter', `Multicast discovery counter ${k}.`, () => {
          const now = (multicastStats(this.cluster) as Record<string, unknown> | undefined)?.[k];
          return typeof now === 'number' ? now : 0;
        });
      }
    }
  }
}

/** The exposition text of a cluster, once (no process metrics, no event-loop sampling). */
export async function renderPrometheus(cluster: Cluster): Promise<string> {
  const exporter = new PrometheusExporter(cluster, { processMetrics: false, eventLoopSampleMs: 0 });
  try {
    return await exporter.render();
  } finally {
    exporter.close();
  }
}
