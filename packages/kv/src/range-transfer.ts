/**
 * Range transfer on membership change. When the ring changes (after `rebalanceDelay`, so a burst of
 * joins and leaves moves data once), each node works out which partitions must reach which owners:
 *  - a partition it holds but no longer owns (a join displaced it, or it holds a leftover) goes to
 *    every current owner that does not already have the same records;
 *  - a partition whose owner set gained a member while no displaced owner is still around to send
 *    it (the old owner died) is sent by the first remaining old owner.
 * Before sending, it asks each target for its digests of those partitions (anti-entropy's digest
 * request) and sends only the ones that differ, so data already in place never moves again. The
 * records go over one Grapevine stream per target (flow-controlled; record-frames.ts); the receiver
 * applies them and answers one byte when it has all of them. Only after every owner has confirmed
 * does the old owner drop the partition: it lets go after the new owners hold the data, never before.
 * A failed transfer is retried after `rebalanceDelay` × 4 (at least a second); anti-entropy covers
 * anything a change of plan leaves behind.
 */
import type { KvContext } from './context.js';
import { encodeRecord, FrameError, FrameReader } from './record-frames.js';
import type { Ring } from './ring.js';
import { byteStream } from './stream-io.js';

/** Bytes gathered into one stream write. */
const WRITE_BATCH = 64 * 1024;

export class RangeTransfer {
  private prev: Ring | undefined;
  private timer: { cancel(): void } | undefined;
  private running = false;
  private again = false;
  /** Bytes of records sent by range transfers (for the rebalancing benchmark). */
  bytesSent = 0;
  recordsSent = 0;

  constructor(private readonly ctx: () => KvContext) {}

  /** The ring changed: plan a transfer run. */
  ringChanged(): void {
    this.schedule(this.ctx().opts.rebalanceDelay);
  }

  /** True while transfers are planned or running. */
  get busy(): boolean {
    return this.running || this.timer !== undefined;
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    const ctx = this.ctx();
    if (ctx.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer?.cancel();
    this.timer = ctx.opts.clock.setTimer(() => {
      this.timer = undefined;
      void this.run().catch(() => {
        this.running = false;
        this.ctx().metrics.increment('kv.range-failed');
        this.schedule(Math.max(1000, this.ctx().opts.rebalanceDelay * 4));
      });
    }, ms);
  }

  private async run(): Promise<void> {
    const ctx = this.ctx();
    if (ctx.closed) return;
    this.running = true;
    const next = ctx.ring();
    const prev = this.prev;
    let failed = false;
    try {
      const plan = this.plan(prev, next);
      const leaving = new Map<number, number>(); // partition → targets left to confirm
      for (const p of plan.leaving) leaving.set(p, next.ownersOf(p).length);
      const queue = [...plan.byTarget];
      const worker = async (): Promise<void> => {
        for (let item = queue.shift(); item; item = queue.shift()) {
          const [target, parts] = item;
          const ok = await this.sendTo(target, parts).catch(() => false);
          if (!ok) failed = true;
          for (const p of parts) if (ok && leaving.has(p)) leaving.set(p, leaving.get(p)! - 1);
        }
      };
      await Promise.all(Array.from({ length: Math.min(ctx.opts.maxTransfers, queue.length) }, worker));
      const current = ctx.ring();
      for (const [p, left] of leaving) {
        if (left <= 0 && !current.isOwner(ctx.self, p)) {
          ctx.store.dropPartition(p);
          ctx.metrics.increment('kv.partition-released');
        }
      }
      this.prev = next;
    } finally {
      this.running = false;
    }
    if (ctx.closed) return;
    if (this.again) {
      this.again = false;
      this.schedule(ctx.opts.rebalanceDelay);
    } else if (failed) {
      this.schedule(Math.max(1000, ctx.opts.rebalanceDelay * 4));
    }
  }

  /** Which partitions go to which targets, and which this node releases afterwards. Pure. */
  plan(prev: Ring | undefined, next: Ring): { byTarget: Map<string, number[]>; leaving: number[] } {
    const self = this.ctx().self;
    const byTarget = new Map<string, number[]>();
    const add = (t: string, p: number): void => {
      if (t === self) return;
      let l = byTarget.get(t);
      if (!l) byTarget.set(t, (l = []));
      l.push(p);
    };
    const leaving: number[] = [];
    for (const p of this.ctx().store.heldPartitions()) {
      const owners = next.ownersOf(p);
      if (owners.length === 0) continue;
      if (!owners.includes(self)) {
        leaving.push(p);
        for (const o of owners) add(o, p);
        continue;
      }
      if (!prev) continue;
      const before = prev.ownersOf(p);
      const gained = owners.filter((o) => !before.includes(o));
      if (gained.length === 0) continue;
      const displacedAlive = before.some((o) => !owners.includes(o) && next.has(o));
      if (displacedAlive) continue; // the displaced owner sends it
      const firstStayer = owners.find((o) => before.includes(o));
      if (firstStayer !== self) continue;
      for (const g of gained) add(g, p);
    }
    return { byTarget, leaving };
  }

  /** Send the partitions whose digest differs on `target`; true once the target confirmed them. */
  private async sendTo(target: string, parts: number[]): Promise<boolean> {
    const ctx = this.ctx();
    const ds = parts.map((p) => ctx.store.digest(p));
    const differ = await ctx.cluster.request<unknown>(target, ctx.types.digest, { ps: parts, ds }, { timeout: ctx.opts.requestTimeout });
    if (!Array.isArray(differ)) return false;
    const asked = new Set(parts);
    const want = differ.filter((p): p is number => typeof p === 'number' && asked.has(p));
    if (want.length === 0) return true;
    const s = byteStream(await ctx.cluster.openStream(target, ctx.types.transfer, { ps: want }));
    const confirmed = new Promise<boolean>((resolve) => {
      let ok = false;
      s.listen({
        data: (c) => {
          if (c.length > 0 && c[c.length - 1] === 1) ok = true;
        },
        end: () => resolve(ok),
        error: () => resolve(false),
      });
    });
    try {
      let batch: Uint8Array[] = [];
      let size = 0;
      const flush = async (): Promise<void> => {
        if (size === 0) return;
        const out = new Uint8Array(size);
        let o = 0;
        for (const b of batch) {
          out.set(b, o);
          o += b.length;
        }
        batch = [];
        size = 0;
        this.bytesSent += out.length;
        await s.write(out);
      };
      for (const p of want) {
        for (const rec of ctx.store.partitionRecords(p, ctx.now())) {
          const f = encodeRecord(rec);
          batch.push(f);
          size += f.length;
          this.recordsSent++;
          if (size >= WRITE_BATCH) await flush();
        }
      }
      await flush();
      await s.end();
    } catch {
      s.reset('range transfer failed');
      return false;
    }
    const ok = await confirmed;
    if (ok) ctx.metrics.increment('kv.range-sent', want.length);
    return ok;
  }
}

/** The receiving side of a range transfer: apply every record, then answer 1 (all applied) or 0. */
export function acceptTransfer(ctx: KvContext, stream: unknown): void {
  const s = byteStream(stream);
  const reader = new FrameReader(ctx.opts.maxKeyBytes, ctx.opts.maxValueBytes);
  let ok = true;
  let broken = false;
  s.listen({
    data: (c) => {
      if (broken) return;
      try {
        const now = ctx.now();
        for (const rec of reader.push(c)) {
          ctx.hlc.observe(rec.ts);
          try {
            ctx.store.apply(rec, now);
          } catch {
            ok = false; // full: the sender keeps its copy
          }
        }
      } catch (err) {
        broken = true;
        ctx.metrics.increment('kv.drop.bad-transfer');
        s.reset(err instanceof FrameError ? err.message : 'bad transfer');
      }
    },
    end: () => {
      if (broken) return;
      const good = ok && reader.pending === 0;
      ctx.metrics.increment('kv.range-received');
      void s
        .write(new Uint8Array([good ? 1 : 0]))
        .then(() => s.end())
        .catch(() => undefined);
    },
    error: () => undefined,
  });
}
