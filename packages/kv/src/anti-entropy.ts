/**
 * Anti-entropy: replicas converge even when hints were lost or a node missed a transfer.
 *
 * Every `antiEntropyInterval` this node picks the next peer (round-robin over the ring) and compares
 * the partitions they both own by digest: each store keeps, per partition, the XOR of a hash of every
 * (key, version) it holds (replica-store.ts), so a comparison costs one number per partition. For up
 * to `antiEntropyMaxPartitions` partitions that differ, the two exchange (key, version) lists and
 * each side sends the other the records it has newer; the newest version wins on both.
 *
 * The same round collects tombstones. For partitions where this node is the primary owner, a
 * tombstone older than `tombstoneMinAge` is checked with every other current owner; only when all of
 * them hold that version (or a newer one) is it purged everywhere, and each owner purges only that
 * exact version. So a delete is never forgotten while an owner could still hand an older value back.
 */
import { hlcWall } from '@grapevine/core';
import type { KvContext } from './context.js';
import { fromWire, toWire, type KvRecord, type WireRecord } from './record.js';
import { compareVersions } from './versions.js';

/** Most tombstones checked per partition owner in one round. */
const TOMB_BATCH = 1024;

type KeyVersion = [string, number, string];

export class AntiEntropy {
  private timer: { cancel(): void } | undefined;
  private cursor = 0;
  private running = false;
  rounds = 0;

  constructor(private readonly ctx: () => KvContext) {}

  start(): void {
    const ctx = this.ctx();
    if (ctx.opts.antiEntropyInterval === 0) return;
    const tick = (): void => {
      if (this.ctx().closed) return;
      void this.round().catch(() => this.ctx().metrics.increment('kv.anti-entropy-failed')).finally(() => {
        if (!this.ctx().closed) this.timer = ctx.opts.clock.setTimer(tick, ctx.opts.antiEntropyInterval);
      });
    };
    this.timer = ctx.opts.clock.setTimer(tick, ctx.opts.antiEntropyInterval);
  }

  stop(): void {
    this.timer?.cancel();
  }

  /** One round with the next peer; resolves when it is done (tests call it directly). */
  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const ctx = this.ctx();
      const ring = ctx.ring();
      const peers = ring.members.map((m) => m.name).filter((n) => n !== ctx.self);
      if (peers.length > 0) {
        const peer = peers[this.cursor++ % peers.length]!;
        await this.syncWith(peer).catch(() => ctx.metrics.increment('kv.anti-entropy-failed'));
      }
      await this.collectTombstones().catch(() => ctx.metrics.increment('kv.tombstone-check-failed'));
      this.rounds++;
    } finally {
      this.running = false;
    }
  }

  /** Compare every shared partition with `peer` and exchange what differs. */
  async syncWith(peer: string): Promise<number> {
    const ctx = this.ctx();
    const ring = ctx.ring();
    const ps: number[] = [];
    for (let p = 0; p < ring.partitions; p++) {
      const owners = ring.ownersOf(p);
      if (owners.includes(ctx.self) && owners.includes(peer)) ps.push(p);
    }
    if (ps.length === 0) return 0;
    const ds = ps.map((p) => ctx.store.digest(p));
    const differ = await ctx.cluster.request<unknown>(peer, ctx.types.digest, { ps, ds }, { timeout: ctx.opts.requestTimeout });
    if (!Array.isArray(differ)) return 0;
    let repaired = 0;
    const shared = new Set(ps);
    for (const p of differ.slice(0, ctx.opts.antiEntropyMaxPartitions)) {
      if (typeof p !== 'number' || !shared.has(p)) continue;
      repaired += await this.syncPartition(peer, p);
    }
    ctx.metrics.increment('kv.anti-entropy-rounds');
    return repaired;
  }

  private async syncPartition(peer: string, p: number): Promise<number> {
    const ctx = this.ctx();
    const mine = ctx.store.partitionRecords(p, ctx.now());
    const list: KeyVersion[] = mine.map((r) => [r.key, r.ts, r.node]);
    const reply = (await ctx.cluster.request<unknown>(peer, ctx.types.sync, { p, list }, { timeout: ctx.opts.requestTimeout })) as { records?: unknown; want?: unknown };
    let n = 0;
    const now = ctx.now();
    if (Array.isArray(reply?.records)) {
      for (const w of reply.records) {
        const rec = fromWire(w, ctx.opts.maxKeyBytes, ctx.opts.maxValueBytes);
        if (!rec) continue;
        ctx.hlc.observe(rec.ts);
        try {
          if (ctx.store.apply(rec, now) === 'applied') n++;
        } catch {
          // full: try again next round
        }
      }
    }
    if (Array.isArray(reply?.want) && reply.want.length > 0) {
      const byKey = new Map(mine.map((r) => [r.key, r]));
      const send: WireRecord[] = [];
      for (const k of reply.want) {
        const r = typeof k === 'string' ? byKey.get(k) : undefined;
        if (r) send.push(toWire(r));
      }
      if (send.length) {
        await ctx.cluster.request(peer, ctx.types.write, send, { timeout: ctx.opts.requestTimeout });
        n += send.length;
      }
    }
    if (n) ctx.metrics.increment('kv.anti-entropy-repaired', n);
    return n;
  }

  private async collectTombstones(): Promise<void> {
    const ctx = this.ctx();
    const ring = ctx.ring();
    const now = ctx.now();
    const byPartition = new Map<number, KvRecord[]>();
    let count = 0;
    for (const p of ctx.store.heldPartitions()) {
      if (ring.ownersOf(p)[0] !== ctx.self) continue;
      for (const r of ctx.store.partitionRecords(p, now)) {
        if (r.value !== null || now - hlcWall(r.ts) < ctx.opts.tombstoneMinAge) continue;
        let l = byPartition.get(p);
        if (!l) byPartition.set(p, (l = []));
        l.push(r);
        if (++count >= TOMB_BATCH) break;
      }
      if (count >= TOMB_BATCH) break;
    }
    if (count === 0) return;
    // Group by owner set: ask each other owner about all tombstones it should hold.
    const byOwner = new Map<string, KvRecord[]>();
    for (const [p, recs] of byPartition) {
      for (const o of ring.ownersOf(p)) {
        if (o === ctx.self) continue;
        let l = byOwner.get(o);
        if (!l) byOwner.set(o, (l = []));
        l.push(...recs);
      }
    }
    const held = new Map<string, number>(); // key → owners confirming
    await Promise.all(
      [...byOwner].map(async ([o, recs]) => {
        const reply = await ctx.cluster.request<unknown>(o, ctx.types.tombCheck, recs.map((r) => [r.key, r.ts, r.node]), { timeout: ctx.opts.requestTimeout }).catch(() => undefined);
        if (!Array.isArray(reply)) return;
        recs.forEach((r, i) => {
          if (reply[i] === true) held.set(r.key, (held.get(r.key) ?? 0) + 1);
        });
      }),
    );
    const purge = new Map<string, KeyVersion[]>();
    const purgeSelf: KvRecord[] = [];
    for (const [p, recs] of byPartition) {
      const others = ring.ownersOf(p).filter((o) => o !== ctx.self);
      for (const r of recs) {
        if ((held.get(r.key) ?? 0) < others.length) continue;
        purgeSelf.push(r);
        for (const o of others) {
          let l = purge.get(o);
          if (!l) purge.set(o, (l = []));
          l.push([r.key, r.ts, r.node]);
        }
      }
    }
    await Promise.all([...purge].map(([o, list]) => ctx.cluster.request(o, ctx.types.purge, list, { timeout: ctx.opts.requestTimeout }).catch(() => undefined)));
    for (const r of purgeSelf) ctx.store.purgeTombstone(r.key, r.ts, r.node);
    if (purgeSelf.length) ctx.metrics.increment('kv.tombstones-purged', purgeSelf.length);
  }
}

function isKeyVersion(x: unknown): x is KeyVersion {
  return Array.isArray(x) && x.length === 3 && typeof x[0] === 'string' && typeof x[1] === 'number' && typeof x[2] === 'string';
}

/** Digest handler: the partitions (of those asked) whose digest differs here. */
export function handleDigest(ctx: KvContext, payload: unknown): number[] {
  const { ps, ds } = (payload ?? {}) as { ps?: unknown; ds?: unknown };
  if (!Array.isArray(ps) || !Array.isArray(ds) || ps.length !== ds.length || ps.length > ctx.opts.partitions) return [];
  const out: number[] = [];
  ps.forEach((p, i) => {
    if (typeof p === 'number' && Number.isInteger(p) && p >= 0 && p < ctx.opts.partitions && ctx.store.digest(p) !== ds[i]) out.push(p);
  });
  return out;
}

/** Sync handler: given the asker's (key, version) list of a partition, what each side should send. */
export function handleSync(ctx: KvContext, payload: unknown): { records: WireRecord[]; want: string[] } {
  const { p, list } = (payload ?? {}) as { p?: unknown; list?: unknown };
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= ctx.opts.partitions || !Array.isArray(list)) return { records: [], want: [] };
  const theirs = new Map<string, KeyVersion>();
  for (const kv of list) if (isKeyVersion(kv)) theirs.set(kv[0], kv);
  const records: WireRecord[] = [];
  const want: string[] = [];
  const mine = ctx.store.partitionRecords(p, ctx.now());
  const mineKeys = new Set<string>();
  for (const r of mine) {
    mineKeys.add(r.key);
    const t = theirs.get(r.key);
    const cmp = t ? compareVersions(r, { ts: t[1], node: t[2] }) : 1;
    if (cmp > 0) records.push(toWire(r));
    else if (cmp < 0) want.push(r.key);
  }
  for (const k of theirs.keys()) if (!mineKeys.has(k)) want.push(k);
  return { records, want };
}

/** Tombstone check handler: for each version, do I hold it or a newer one? */
export function handleTombCheck(ctx: KvContext, payload: unknown): boolean[] {
  if (!Array.isArray(payload) || payload.length > TOMB_BATCH * 16) return [];
  const now = ctx.now();
  return payload.map((kv) => {
    if (!isKeyVersion(kv)) return false;
    const r = ctx.store.getRecord(kv[0], now, false);
    return r !== undefined && compareVersions(r, { ts: kv[1], node: kv[2] }) >= 0;
  });
}

/** Purge handler: drop these tombstones if still exactly those versions. */
export function handlePurge(ctx: KvContext, payload: unknown): number {
  if (!Array.isArray(payload) || payload.length > TOMB_BATCH * 16) return 0;
  let n = 0;
  for (const kv of payload) if (isKeyVersion(kv) && ctx.store.purgeTombstone(kv[0], kv[1], kv[2])) n++;
  return n;
}
