/**
 * Replay protection for sealed envelopes. A sealed envelope carries its sender's timestamp inside
 * the AEAD, so it cannot be altered; we accept it only within `maxSkew` of our clock, and only
 * once: its nonce is remembered until it would be too old anyway. A captured packet replayed later
 * is refused as stale; replayed sooner, as already seen. The cache is bounded: at the bound the
 * oldest entries go (counted), which re-opens replay only for packets old enough to be that far
 * back in the cache.
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  evicted = 0;

  constructor(private readonly maxSkew: number, private readonly maxEntries: number) {}

  /** 'ok' to accept, else why not. `sentAt` and `now` are milliseconds. */
  check(nonce: Uint8Array, sentAt: number, now: number): 'ok' | 'stale' | 'replayed' {
    if (!(Math.abs(now - sentAt) <= this.maxSkew)) return 'stale';
    const key = nonceKey(nonce);
    const until = this.seen.get(key);
    if (until !== undefined && until >= now) return 'replayed';
    this.purge(now);
    this.seen.set(key, sentAt + this.maxSkew);
    while (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
      this.evicted++;
    }
    return 'ok';
  }

  private lastPurge = 0;
  /** Drop expired entries, at most once a second (insertion order is close to expiry order). */
  private purge(now: number): void {
    if (now - this.lastPurge < 1000) return;
    this.lastPurge = now;
    for (const [k, until] of this.seen) {
      if (until >= now) break;
      this.seen.delete(k);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}

function nonceKey(n: Uint8Array): string {
  let s = '';
  for (let i = 0; i < n.length; i++) s += String.fromCharCode(n[i]!);
  return s;
}
