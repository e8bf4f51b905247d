/**
 * Hinted handoff: a write an owner did not acknowledge (unreachable, timed out) is kept here as a
 * hint and replayed to that owner every `hintReplayInterval` while it is a live member, so a node
 * that was briefly down catches up without waiting for anti-entropy. Hints never count toward W.
 *
 * Bounds: at most `maxHints` hints (the oldest go first, counted as kv.hint-dropped), each kept at
 * most `hintTtl`; a hint for an owner that is no longer an owner of the key (the ring moved on) is
 * dropped, because the new owners get the key from range transfer. Only the newest record per
 * (owner, key) is kept: an older one would be ignored by the owner anyway.
 */
import type { KvContext } from './context.js';
import { toWire, type KvRecord } from './record.js';
import { compareVersions } from './versions.js';

interface Hint {
  rec: KvRecord;
  at: number;
}

/** Most hints sent to one owner in one request. */
const REPLAY_BATCH = 512;

export class Hints {
  private readonly byOwner = new Map<string, Map<string, Hint>>();
  private count = 0;
  private replaying = new Set<string>();

  constructor(private readonly ctx: () => KvContext) {}

  get size(): number {
    return this.count;
  }

  add(owner: string, rec: KvRecord): void {
    const { opts, metrics, now } = this.ctx();
    if (opts.maxHints === 0) return;
    let m = this.byOwner.get(owner);
    if (!m) this.byOwner.set(owner, (m = new Map()));
    const cur = m.get(rec.key);
    if (cur && compareVersions(cur.rec, rec) >= 0) return;
    if (!cur) this.count++;
    else m.delete(rec.key);
    m.set(rec.key, { rec, at: now() });
    metrics.increment('kv.hint-stored');
    while (this.count > opts.maxHints) this.dropOldest();
  }

  /** Replay what can be replayed now; called on a timer. */
  replay(): void {
    const ctx = this.ctx();
    const now = ctx.now();
    const ring = ctx.ring();
    for (const [owner, m] of this.byOwner) {
      // Expire and re-target first.
      for (const [k, h] of m) {
        if (now - h.at > ctx.opts.hintTtl || !ring.owners(k).includes(owner)) {
          m.delete(k);
          this.count--;
          ctx.metrics.increment('kv.hint-dropped');
        }
      }
      if (m.size === 0) {
        this.byOwner.delete(owner);
        continue;
      }
      const member = ctx.cluster.member(owner);
      if (!member || member.state !== 'alive' || this.replaying.has(owner)) continue;
      const batch = [...m.values()].slice(0, REPLAY_BATCH);
      this.replaying.add(owner);
      ctx.cluster
        .request<unknown>(owner, ctx.types.write, batch.map((h) => toWire(h.rec)), { timeout: ctx.opts.requestTimeout })
        .then((reply) => {
          const flags = Array.isArray(reply) ? reply : [];
          batch.forEach((h, j) => {
            if (flags[j] === 2) return; // refused (full): keep trying until the hint expires
            if (m.get(h.rec.key) === h) {
              m.delete(h.rec.key);
              this.count--;
              ctx.metrics.increment('kv.hint-delivered');
            }
          });
        })
        .catch(() => ctx.metrics.increment('kv.hint-replay-failed'))
        .finally(() => this.replaying.delete(owner));
    }
  }

  private dropOldest(): void {
    // Owners' maps are in insertion order: drop the oldest hint of the owner with the oldest first hint.
    let oldestOwner: string | undefined;
    let oldestAt = Infinity;
    for (const [owner, m] of this.byOwner) {
      const first = m.values().next();
      if (!first.done && first.value.at < oldestAt) {
        oldestAt = first.value.at;
        oldestOwner = owner;
      }
    }
    if (oldestOwner === undefined) {
      this.count = 0;
      return;
    }
    const m = this.byOwner.get(oldestOwner)!;
    m.delete(m.keys().next().value!);
    if (m.size === 0) this.byOwner.delete(oldestOwner);
    this.count--;
    this.ctx().metrics.increment('kv.hint-dropped');
  }
}
