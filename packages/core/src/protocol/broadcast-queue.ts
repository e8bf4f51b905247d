/**
 * The dissemination queue: updates waiting to ride on outgoing packets. Each entry is sent at most
 * `limit` times by this node (retransmitMult × ceil(log10(N+1))), least-sent and newest first, and
 * a newer update about the same key (a member's name) replaces the older one, so stale news about a
 * node is never sent after fresher news.
 */
export interface QueuedBroadcast {
  /** Updates with the same key supersede each other. */
  readonly key: string;
  /** The codec bytes of the message, encoded once. */
  readonly part: Uint8Array;
  transmits: number;
  readonly id: number;
  /** Called once the entry leaves the queue (sent its limit, superseded or dropped). */
  readonly done?: () => void;
}

export class BroadcastQueue {
  private readonly byKey = new Map<string, QueuedBroadcast>();
  private nextId = 0;
  /** Entries dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.byKey.size;
  }

  enqueue(key: string, part: Uint8Array, done?: () => void): void {
    const old = this.byKey.get(key);
    if (old) {
      this.byKey.delete(key);
      old.done?.();
    }
    const entry: QueuedBroadcast = done ? { key, part, transmits: 0, id: this.nextId++, done } : { key, part, transmits: 0, id: this.nextId++ };
    this.byKey.set(key, entry);
    if (this.byKey.size > this.maxEntries) this.evict();
  }

  /** Drop the most-sent, oldest entry (the least useful to keep). */
  private evict(): void {
    let worst: QueuedBroadcast | undefined;
    for (const e of this.byKey.values()) {
      if (!worst || e.transmits > worst.transmits || (e.transmits === worst.transmits && e.id < worst.id)) worst = e;
    }
    if (worst) {
      this.byKey.delete(worst.key);
      this.dropped++;
      worst.done?.();
    }
  }

  /**
   * Take parts that fit in `budget` bytes, where each part costs its length plus `perPartOverhead`,
   * and at most `maxParts` of them. Each taken entry counts one transmission; entries that reach
   * `limit` leave the queue.
   */
  take(budget: number, perPartOverhead: number, maxParts: number, limit: number): Uint8Array[] {
    if (this.byKey.size === 0 || budget <= perPartOverhead || maxParts <= 0) return [];
    const entries = [...this.byKey.values()];
    entries.sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    const out: Uint8Array[] = [];
    let used = 0;
    for (const e of entries) {
      if (out.length >= maxParts) break;
      const cost = e.part.length + perPartOverhead;
      if (used + cost > budget) continue;
      used += cost;
      out.push(e.part);
      e.transmits++;
      if (e.transmits >= limit) {
        this.byKey.delete(e.key);
        e.done?.();
      }
    }
    return out;
  }

  /** Remove entries whose key matches (a reaped member). */
  remove(key: string): void {
    const e = this.byKey.get(key);
    if (e) {
      this.byKey.delete(key);
      e.done?.();
    }
  }

  clear(): void {
    for (const e of this.byKey.values()) e.done?.();
    this.byKey.clear();
  }
}

/** retransmitMult × ceil(log10(N+1)). */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}
