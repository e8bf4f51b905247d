/**
 * The coordinator: whichever node a call is made on sends it to the key's owners and counts
 * answers against the quorum.
 *
 * Writes (set, delete, expire): the record gets a fresh version (HLC + this node's name) and goes to
 * every owner at once, the local store directly and the others by request/reply. The call resolves
 * as soon as W owners acknowledged; it rejects with ERR_QUORUM (a QuorumError saying how many
 * answered) once W can no longer be reached — never a silent success. An owner that could not be
 * reached (as opposed to one that refused, e.g. ERR_KV_FULL) gets a hint (handoff.ts), replayed when
 * it is back; a hint never counts toward W, so an acknowledged write is on W real owners.
 *
 * Reads (get, has): ask R owners (this node first when it is one); an owner that fails is replaced
 * by the next. The newest answer wins. When every answer is a miss, the remaining owners are asked
 * too before answering "absent": during a rebalance a new owner may not have received its range
 * yet, and a miss must not hide a value another owner holds. Answers that disagree trigger read
 * repair (read-repair.ts).
 */
import { describeFailure, isRefusal, type KvContext } from './context.js';
import { QuorumError } from './errors.js';
import { repair } from './read-repair.js';
import { expired, fromWire, toWire, type KvRecord, type WireRecord } from './record.js';
import { compareVersions } from './versions.js';

export interface WriteResult {
  /** Owners that acknowledged. */
  acks: number;
  /** Whether any acknowledging owner held a live value for the key before this write. */
  existed: boolean;
}

/**
 * Replicate records to their owners; resolves per record once W owners acknowledged it.
 * Rejects with QuorumError as soon as one record can no longer reach W.
 */
export function replicate(ctx: KvContext, records: KvRecord[], w: number, op: 'set' | 'delete' | 'expire'): Promise<WriteResult[]> {
  const ring = ctx.ring();
  const results: WriteResult[] = records.map(() => ({ acks: 0, existed: false }));
  const pending = records.map(() => 0);
  const failures: string[][] = records.map(() => []);
  const byOwner = new Map<string, number[]>();
  records.forEach((rec, i) => {
    const owners = ring.owners(rec.key);
    pending[i] = owners.length;
    for (const o of owners) {
      let list = byOwner.get(o);
      if (!list) byOwner.set(o, (list = []));
      list.push(i);
    }
  });
  return new Promise<WriteResult[]>((resolve, reject) => {
    let done = false;
    let satisfied = 0;
    // Checks record `only` (the one an answer just changed), or every record when not given.
    const finish = (only?: number): void => {
      if (done) return;
      for (let i = only ?? 0; i < (only === undefined ? records.length : only + 1); i++) {
        if (results[i]!.acks + pending[i]! < w) {
          done = true;
          const owners = ring.owners(records[i]!.key).length;
          ctx.metrics.increment('kv.quorum-failed');
          reject(new QuorumError(op, results[i]!.acks, w, owners, failures[i]!));
          return;
        }
      }
      if (satisfied === records.length) {
        done = true;
        resolve(results);
      }
    };
    const ack = (i: number, existed: boolean): void => {
      const r = results[i]!;
      r.acks++;
      r.existed ||= existed;
      pending[i]!--;
      if (r.acks === w) satisfied++;
    };
    const fail = (i: number, why: string): void => {
      pending[i]!--;
      failures[i]!.push(why);
    };
    if (records.length === 0) return resolve(results);
    if (byOwner.size === 0) return finish();
    for (const [owner, idx] of byOwner) {
      if (owner === ctx.self) {
        const now = ctx.now();
        for (const i of idx) {
          const rec = records[i]!;
          try {
            const before = ctx.store.getRecord(rec.key, now, false);
            ctx.store.apply(rec, now);
            ack(i, before !== undefined && before.value !== null);
          } catch (err) {
            fail(i, describeFailure(owner, err));
          }
        }
        continue;
      }
      for (const i of idx) {
        ctx.batches.write(owner, toWire(records[i]!), (flag, err) => {
          if (err !== undefined) {
            fail(i, describeFailure(owner, err));
            if (!isRefusal(err)) ctx.hint(owner, records[i]!);
          } else if (flag === 0 || flag === 1) ack(i, flag === 1);
          else fail(i, `${owner}: ERR_KV_FULL`);
          finish(i);
        });
      }
    }
    finish();
  });
}

/** The write handler on an owner: apply each record; reply 1/0 (had a live value) or 2 (refused). */
export function handleWrite(ctx: KvContext, payload: unknown): number[] {
  if (!Array.isArray(payload) || payload.length > 100_000) throw Object.assign(new Error('bad write'), { code: 'ERR_KV_ARGUMENT' });
  const now = ctx.now();
  const out: number[] = [];
  for (const w of payload) {
    const rec = fromWire(w, ctx.opts.maxKeyBytes, ctx.opts.maxValueBytes);
    if (!rec) {
      out.push(2);
      ctx.metrics.increment('kv.drop.bad-record');
      continue;
    }
    ctx.hlc.observe(rec.ts);
    try {
      const before = ctx.store.getRecord(rec.key, now, false);
      ctx.store.apply(rec, now);
      out.push(before !== undefined && before.value !== null ? 1 : 0);
    } catch {
      out.push(2);
    }
  }
  return out;
}

/** The read handler on an owner: the record held for each key, or null. */
export function handleRead(ctx: KvContext, payload: unknown): (WireRecord | null)[] {
  if (!Array.isArray(payload) || payload.length > 100_000) throw Object.assign(new Error('bad read'), { code: 'ERR_KV_ARGUMENT' });
  const now = ctx.now();
  return payload.map((k) => {
    if (typeof k !== 'string') return null;
    const r = ctx.store.getRecord(k, now);
    return r ? toWire(r) : null;
  });
}

/**
 * A read with R = 1 that this node can answer alone: the live record it holds for a key it owns,
 * else undefined (then read() asks the others). Synchronous, so a front end answers a local hit
 * without a promise; read() takes the same answer first, so the two never disagree.
 */
export function readLocal(ctx: KvContext, key: string): KvRecord | undefined {
  if (!ctx.ring().owners(key).includes(ctx.self)) return undefined;
  const now = ctx.now();
  const rec = ctx.store.getRecord(key, now);
  return rec !== undefined && rec.value !== null && !expired(rec, now) ? rec : undefined;
}

/** One key from an owner's read handler, through the per-owner batch. */
function askOwner(ctx: KvContext, owner: string, key: string): Promise<unknown> {
  return new Promise((resolve, reject) => ctx.batches.read(owner, key, (slot, err) => (err !== undefined ? reject(err) : resolve(slot))));
}

/** Read one key with quorum R; resolves the newest live record, or undefined for a miss. */
export async function read(ctx: KvContext, key: string, r: number): Promise<KvRecord | undefined> {
  if (r === 1) {
    const local = readLocal(ctx, key);
    if (local) return local;
  }
  const ring = ctx.ring();
  const owners = [...ring.owners(key)];
  const selfAt = owners.indexOf(ctx.self);
  if (selfAt > 0) {
    owners.splice(selfAt, 1);
    owners.unshift(ctx.self);
  }
  const replies = new Map<string, KvRecord | undefined>();
  const failures: string[] = [];
  let next = 0;
  const ask = async (owner: string): Promise<void> => {
    try {
      if (owner === ctx.self) {
        replies.set(owner, ctx.store.getRecord(key, ctx.now()));
        return;
      }
      const w = await askOwner(ctx, owner, key);
      const rec = w === null || w === undefined ? undefined : fromWire(w, ctx.opts.maxKeyBytes, ctx.opts.maxValueBytes);
      if (w !== null && w !== undefined && !rec) throw Object.assign(new Error('bad read reply'), { code: 'ERR_DECODE' });
      if (rec) ctx.hlc.observe(rec.ts);
      replies.set(owner, rec);
    } catch (err) {
      failures.push(describeFailure(owner, err));
      // Replace a failed owner by the next one not yet asked.
      if (next < owners.length) await ask(owners[next++]!);
    }
  };
  const first: Promise<void>[] = [];
  while (next < Math.min(r, owners.length)) first.push(ask(owners[next++]!));
  await Promise.all(first);
  if (replies.size < r) {
    ctx.metrics.increment('kv.quorum-failed');
    throw new QuorumError('get', replies.size, r, owners.length, failures);
  }
  const live = (rec: KvRecord | undefined): boolean => rec !== undefined && rec.value !== null && !expired(rec, ctx.now());
  if (![...replies.values()].some(live) && next < owners.length) {
    // Every answer so far is a miss: ask the rest before saying so (see the file comment).
    const rest: Promise<void>[] = [];
    while (next < owners.length) {
      const o = owners[next++]!;
      rest.push(ask(o).catch(() => undefined));
    }
    await Promise.all(rest);
  }
  let newest: KvRecord | undefined;
  for (const rec of replies.values()) if (rec && (!newest || compareVersions(rec, newest) > 0)) newest = rec;
  if (newest) repair(ctx, newest, replies);
  return live(newest) ? newest : undefined;
}

/**
 * Read many keys with R=1 in one request per owner: each key goes to its preferred owner (this node
 * when it is one, else the primary); a key whose answer is not a live value, or whose owner failed,
 * is read again on its own (read(), which asks the other owners before answering "absent"). With
 * R > 1 every key is read on its own.
 */
export async function readMany(ctx: KvContext, keys: readonly string[], r: number): Promise<(KvRecord | undefined)[]> {
  if (r !== 1) return Promise.all(keys.map((k) => read(ctx, k, r)));
  const ring = ctx.ring();
  const out: (KvRecord | undefined)[] = new Array<KvRecord | undefined>(keys.length);
  const retry: number[] = [];
  const byOwner = new Map<string, number[]>();
  keys.forEach((k, i) => {
    const owners = ring.owners(k);
    const o = owners.includes(ctx.self) ? ctx.self : owners[0];
    if (o === undefined) return retry.push(i);
    let l = byOwner.get(o);
    if (!l) byOwner.set(o, (l = []));
    l.push(i);
  });
  const now = ctx.now();
  const live = (rec: KvRecord | undefined): boolean => rec !== undefined && rec.value !== null && !expired(rec, now);
  await Promise.all(
    [...byOwner].map(async ([owner, idx]) => {
      if (owner === ctx.self) {
        for (const i of idx) {
          const rec = ctx.store.getRecord(keys[i]!, now);
          if (live(rec)) out[i] = rec;
          else retry.push(i);
        }
        return;
      }
      const reply = await ctx.cluster.request<unknown>(owner, ctx.types.read, idx.map((i) => keys[i]!), { timeout: ctx.opts.requestTimeout }).catch(() => undefined);
      idx.forEach((i, j) => {
        const w = Array.isArray(reply) ? reply[j] : undefined;
        const rec = w === null || w === undefined ? undefined : fromWire(w, ctx.opts.maxKeyBytes, ctx.opts.maxValueBytes);
        if (rec) ctx.hlc.observe(rec.ts);
        if (live(rec)) out[i] = rec;
        else retry.push(i);
      });
    }),
  );
  await Promise.all(retry.map(async (i) => (out[i] = await read(ctx, keys[i]!, 1))));
  return out;
}
