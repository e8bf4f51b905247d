/**
 * One traced node of the mesh latency trace (bench/src/mesh-trace.ts): the mesh bench's latency
 * scenario, with what each node saw of every event recorded so the slow ones can be explained.
 *
 * Per event index i (key `k<i>`), on a subscriber: when the first copy of its batch reached the
 * bus's handler, that copy's remaining hop budget and whether it came over the reliable path, how
 * many copies came and when the last one did, and when the subscriber got the event (later than
 * the first copy when the mesh held it for order). On the publisher: when the batch holding i was
 * handed to cluster.broadcast. On every process: a 1 ms timer's firing times with the process's
 * CPU time at each, so a gap in the loop can be told apart as our own work (CPU rose with the
 * wall) or the process not being scheduled (it did not).
 *
 * Times are wall-clock ms with sub-ms resolution (performance.timeOrigin + performance.now()), so
 * stamps from different processes on one machine compare. Run as a child process by mesh-trace.ts
 * with `child` as its argument; imported by it for the one-process mode.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { createCluster, type NodeCluster } from '@grapevine/node';
import { createMesh, type MeshBus } from '@grapevine/mesh';
import { paced } from './util.js';

export const wall = (): number => performance.timeOrigin + performance.now();

/** The bus's default message type block starts here; +0 is the batch. */
const BATCH_TYPE = 65000;

export interface NodeTrace {
  /** Subscriber: first copy's arrival, remaining hops, reliable flag, copies, last copy, delivery. */
  first: number[];
  hops: number[];
  reliable: number[];
  copies: number[];
  lastCopy: number[];
  delivered: number[];
  /** Publisher: when the batch holding i was broadcast. */
  broadcastAt: number[];
  publishedAt: number[];
  counters: Record<string, number>;
}

export interface LoopTrace {
  /** Firing times of the 1 ms sampler (wall ms) and the process CPU (user + system) µs at each. */
  at: number[];
  cpu: number[];
  /** Garbage collections: start (wall ms), duration ms, and V8's kind (1 minor, 4 major, ...). */
  gc: [number, number, number][];
}

export interface TraceNodeOptions {
  name: string;
  seeds: string[];
  batchInterval: number;
  /** Core options to pass through (broadcastFanout, broadcastDirectMax, ...). */
  core: Record<string, number>;
}

/** A cluster node with its bus, recording the trace of `k<i>` events. */
export class TraceNode {
  cluster!: NodeCluster;
  bus!: MeshBus;
  private total = 0;
  private first = new Float64Array(0);
  private hops = new Uint8Array(0);
  private reliable = new Uint8Array(0);
  private copies = new Uint16Array(0);
  private lastCopy = new Float64Array(0);
  private delivered = new Float64Array(0);
  private broadcastAt = new Float64Array(0);
  private publishedAt = new Float64Array(0);

  async start(o: TraceNodeOptions): Promise<string> {
    this.cluster = await createCluster({ name: o.name, bind: '127.0.0.1:0', seeds: o.seeds, profile: 'lan', ...o.core });
    const c = this.cluster;
    // Seen before the bus: wrap the handler it registers for batches, and its broadcast calls.
    const handle = c.handle.bind(c);
    c.handle = ((type: number, fn: (p: unknown, info: { from: string; hops?: number; reliable: boolean }) => void, opts?: unknown) =>
      handle(type, type !== BATCH_TYPE ? fn : (p: unknown, info: { from: string; hops?: number; reliable: boolean }) => {
        this.onBatch(p, info);
        fn(p, info);
      }, opts as never)) as typeof c.handle;
    const broadcast = c.broadcast.bind(c);
    c.broadcast = ((type: number, payload: unknown) => {
      if (type === BATCH_TYPE) {
        const t = wall();
        for (const i of keysOf(payload)) if (i < this.total) this.broadcastAt[i] = t;
      }
      return broadcast(type, payload);
    }) as typeof c.broadcast;
    this.bus = createMesh(c, { batchInterval: o.batchInterval, batchSize: 20 });
    return c.localNode.address;
  }

  reset(total: number): void {
    this.total = total;
    this.first = new Float64Array(total).fill(Number.NaN);
    this.hops = new Uint8Array(total);
    this.reliable = new Uint8Array(total);
    this.copies = new Uint16Array(total);
    this.lastCopy = new Float64Array(total).fill(Number.NaN);
    this.delivered = new Float64Array(total).fill(Number.NaN);
    this.broadcastAt = new Float64Array(total).fill(Number.NaN);
    this.publishedAt = new Float64Array(total).fill(Number.NaN);
  }

  private onBatch(p: unknown, info: { from: string; hops?: number; reliable: boolean }): void {
    if (info.from === this.cluster.name) return;
    const t = wall();
    for (const i of keysOf(p)) {
      if (i >= this.total) continue;
      if (this.copies[i] === 0) {
        this.first[i] = t;
        this.hops[i] = info.hops ?? 0;
        this.reliable[i] = info.reliable ? 1 : 0;
      }
      this.copies[i]!++;
      this.lastCopy[i] = t;
    }
  }

  subscribe(): void {
    this.bus.subscribe({ prefix: 'k' }, (e) => {
      if (e.type !== 'invalidate') return;
      const i = Number(e.key.slice(1));
      if (i >= 0 && i < this.total && Number.isNaN(this.delivered[i]!)) this.delivered[i] = wall();
    });
  }

  publish(i: number): void {
    this.publishedAt[i] = wall();
    this.bus.publish(`k${i}`);
  }

  /** The cluster's broadcast counters (duplicates, relayed, ...), when its metrics keep them. */
  counters(): Record<string, number> {
    const m = this.cluster.metrics as { counters?: Map<string, number> } | undefined;
    const out: Record<string, number> = {};
    for (const [k, v] of m?.counters ?? []) if (k.startsWith('grapevine.broadcast.') || k.startsWith('grapevine.mesh.')) out[k] = v;
    return out;
  }

  trace(): NodeTrace {
    return {
      counters: this.counters(),
      first: Array.from(this.first), hops: Array.from(this.hops), reliable: Array.from(this.reliable),
      copies: Array.from(this.copies), lastCopy: Array.from(this.lastCopy), delivered: Array.from(this.delivered),
      broadcastAt: Array.from(this.broadcastAt), publishedAt: Array.from(this.publishedAt),
    };
  }

  async close(): Promise<void> {
    await this.bus.close();
    await this.cluster.close();
  }
}

/**
 * Indices i of the `k<i>` keys in a batch payload: format 2 `[2, run, first, [key, ...], ...]`
 * (what the bus sends) or format 1 `[run, first, [[key, ...], ...]]` (length 3).
 */
function keysOf(p: unknown): number[] {
  const out: number[] = [];
  if (!Array.isArray(p)) return out;
  const v2 = p.length !== 3 && p[0] === 2;
  const entries: unknown = v2 ? p[3] : p[2];
  if (!Array.isArray(entries)) return out;
  for (const e of entries) {
    const k = v2 ? e : Array.isArray(e) ? e[0] : undefined;
    if (typeof k === 'string' && k.startsWith('k')) out.push(Number(k.slice(1)));
  }
  return out;
}

/** The 1 ms loop sampler of this process. */
export class LoopSampler {
  private at: number[] = [];
  private cpu: number[] = [];
  private gc: [number, number, number][] = [];
  private timer: NodeJS.Timeout | undefined;
  private obs: PerformanceObserver | undefined;

  start(): void {
    this.at = [];
    this.cpu = [];
    this.gc = [];
    this.obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        this.gc.push([performance.timeOrigin + e.startTime, e.duration, ((e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0)]);
      }
    });
    this.obs.observe({ entryTypes: ['gc'] });
    const c0 = process.cpuUsage();
    this.timer = setInterval(() => {
      const c = process.cpuUsage(c0);
      this.at.push(wall());
      this.cpu.push(c.user + c.system);
    }, 1);
  }

  stop(): LoopTrace {
    clearInterval(this.timer);
    this.obs?.disconnect();
    return { at: this.at, cpu: this.cpu, gc: this.gc };
  }
}


// ---- child process --------------------------------------------------------------------------------

type Cmd =
  | { cmd: 'start'; opts: TraceNodeOptions }
  | { cmd: 'alive' }
  | { cmd: 'arm'; total: number; subscribe: boolean }
  | { cmd: 'publish'; rate: number; seconds: number }
  | { cmd: 'warmup' }
  | { cmd: 'report' }
  | { cmd: 'close' };

if (process.argv[2] === 'child' && process.send) {
  const node = new TraceNode();
  const sampler = new LoopSampler();
  const send = (m: unknown): void => void process.send!(m);
  const run = async (m: Cmd): Promise<void> => {
    switch (m.cmd) {
      case 'start': return send({ ev: 'started', address: await node.start(m.opts) });
      case 'alive': return send({ ev: 'alive', alive: node.cluster.counts().alive });
      case 'arm':
        node.reset(m.total);
        if (m.subscribe) node.subscribe();
        sampler.start();
        return send({ ev: 'armed' });
      case 'publish':
        await paced(m.rate, m.seconds, (i) => node.publish(i));
        return send({ ev: 'published' });
      case 'warmup':
        node.bus.publish('warmup');
        return send({ ev: 'warm' });
      case 'report': return send({ ev: 'report', trace: node.trace(), loop: sampler.stop() });
      case 'close':
        await node.close();
        process.exit(0);
    }
  };
  process.on('message', (m: Cmd) => {
    run(m).catch((err: unknown) => send({ ev: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }));
  });
  process.on('disconnect', () => setTimeout(() => process.exit(0), 200).unref());
}
