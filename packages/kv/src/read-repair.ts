/**
 * Read repair: when the owners a read asked disagree, the newest record goes back to each owner that
 * answered with an older one (or with nothing), in the background, so a key that is read heals at
 * once instead of waiting for anti-entropy. Repairs are best-effort writes of the existing version
 * (no new version is minted), so they never override a newer write that raced with the read.
 */
import type { KvContext } from './context.js';
import { toWire, type KvRecord } from './record.js';
import { compareVersions } from './versions.js';

/** The owners whose answer is older than `newest` (or missing). Pure, for tests. */
export function repairTargets(newest: KvRecord, replies: ReadonlyMap<string, KvRecord | undefined>): string[] {
  const out: string[] = [];
  for (const [owner, rec] of replies) if (!rec || compareVersions(rec, newest) < 0) out.push(owner);
  return out;
}

export function repair(ctx: KvContext, newest: KvRecord, replies: ReadonlyMap<string, KvRecord | undefined>): void {
  const targets = repairTargets(newest, replies);
  if (targets.length === 0) return;
  const owners = ctx.ring().owners(newest.key);
  for (const t of targets) {
    if (!owners.includes(t)) continue;
    ctx.metrics.increment('kv.read-repair');
    if (t === ctx.self) {
      try {
        ctx.store.apply(newest, ctx.now());
      } catch {
        // A full store refuses the repair; anti-entropy will try again.
      }
      continue;
    }
    ctx.cluster.request(t, ctx.types.write, [toWire(newest)], { timeout: ctx.opts.requestTimeout }).catch(() => ctx.metrics.increment('kv.read-repair-failed'));
  }
}
