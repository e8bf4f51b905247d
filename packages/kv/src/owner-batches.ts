/**
 * Per-owner batching of the coordinator's reads and writes: every record (or key) this node sends
 * to one owner during one turn of the event loop travels in one request, and the owner answers the
 * batch with one reply. With many calls in flight (a RESP front end serving 50 clients, an
 * application with 64 concurrent sets) this turns 2 requests and 2 replies per write into 2 per
 * turn, which is what the profile showed the cost to be: one encode, one envelope and one socket
 * write per request, not the store.
 *
 * A batch is flushed at the end of the turn (`defer`, default setImmediate with the system clock,
 * a zero-delay timer of the options' clock otherwise, so a simulation stays deterministic), or at
 * once when it reaches `batchMaxRecords` items or `batchMaxBytes` bytes. Each item's callback sees
 * exactly what an unbatched request would have given it: its own slot of the reply, or the
 * request's error (timeout, unreachable) — so quorums, hints and refusals are counted per record as
 * before. A malformed reply fails every item of the batch.
 */
import type { KvContext } from './context.js';
import type { WireRecord } from './record.js';

/** Called once per item: its slot of the reply, or the error of the whole request. */
export type ItemDone = (slot: unknown, err: unknown) => void;

interface Batch {
  items: unknown[];
  done: ItemDone[];
  bytes: number;
}

/** One item's callback; one that throws must not keep the batch's other items from theirs. */
function settle(d: ItemDone, slot: unknown, err: unknown): void {
  try {
    d(slot, err);
  } catch {
    // the caller's bug; the others still get their answers
  }
}

class OwnerQueue {
  private readonly open = new Map<string, Batch>();
  private scheduled = false;

  constructor(
    private readonly ctx: () => KvContext,
    private readonly type: () => number,
  ) {}

  add(owner: string, item: unknown, bytes: number, done: ItemDone): void {
    const { opts } = this.ctx();
    let b = this.open.get(owner);
    if (b && (b.items.length >= opts.batchMaxRecords || b.bytes + bytes > opts.batchMaxBytes)) {
      this.open.delete(owner);
      this.send(owner, b);
      b = undefined;
    }
    if (!b) this.open.set(owner, (b = { items: [], done: [], bytes: 0 }));
    b.items.push(item);
    b.done.push(done);
    b.bytes += bytes;
    if (!this.scheduled) {
      this.scheduled = true;
      opts.defer(() => this.flush());
    }
  }

  /** Send every open batch now. */
  flush(): void {
    this.scheduled = false;
    if (this.open.size === 0) return;
    const batches = [...this.open];
    this.open.clear();
    for (const [owner, b] of batches) this.send(owner, b);
  }

  private send(owner: string, b: Batch): void {
    const ctx = this.ctx();
    const failAll = (err: unknown): void => {
      const e = err ?? new Error('request failed');
      for (const d of b.done) settle(d, undefined, e);
    };
    if (ctx.closed) return failAll(Object.assign(new Error('kv closed'), { code: 'ERR_KV_CLOSED' }));
    ctx.metrics.observe('kv.batch-records', b.items.length);
    let sent: Promise<unknown>;
    try {
      sent = ctx.cluster.request<unknown>(owner, this.type(), b.items, { timeout: ctx.opts.requestTimeout });
    } catch (err) {
      // Never leave a caller waiting: whatever stops the request fails every item of the batch.
      return failAll(err);
    }
    sent.then(
      (reply) => {
        if (!Array.isArray(reply) || reply.length !== b.items.length) return failAll(Object.assign(new Error('bad batch reply'), { code: 'ERR_DECODE' }));
        for (let i = 0; i < b.done.length; i++) settle(b.done[i]!, reply[i], undefined);
      },
      failAll,
    );
  }
}

/** The coordinator's two batched request kinds. */
export class OwnerBatches {
  private readonly writes: OwnerQueue;
  private readonly reads: OwnerQueue;

  constructor(ctx: () => KvContext) {
    this.writes = new OwnerQueue(ctx, () => ctx().types.write);
    this.reads = new OwnerQueue(ctx, () => ctx().types.read);
  }

  /** Queue a record for an owner's write handler; the slot is 0/1 (applied; had a live value) or 2 (refused). */
  write(owner: string, rec: WireRecord, done: ItemDone): void {
    this.writes.add(owner, rec, rec[0].length * 3 + (rec[1] ? rec[1].length : 0) + rec[3].length + 24, done);
  }

  /** Queue a key for an owner's read handler; the slot is its wire record or null. */
  read(owner: string, key: string, done: ItemDone): void {
    this.reads.add(owner, key, key.length * 3 + 4, done);
  }

  flush(): void {
    this.writes.flush();
    this.reads.flush();
  }
}
