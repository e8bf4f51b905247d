/**
 * The publish side's waiting room. Keys wait here until a batch is due: `batchSize` keys, or
 * `batchBytes` bytes, or `batchInterval` ms after the first one came (the bus owns the timer).
 *
 * Pending-dedup: a key that is already waiting is not queued twice; a later publish of it only
 * replaces the value and version (the newest write is the one receivers should see) and may add an
 * acknowledgement request. So a hot key costs one slot per batch however often it changes.
 *
 * Sizes are estimated cheaply (a publish must stay a few hundred nanoseconds); the bus checks
 * the exact encoded size of every batch before it is sent and splits one that would not fit.
 */

export interface PendingEntry {
  key: string;
  version: number;
  hasValue: boolean;
  value: unknown;
  /** Some publishAndAwait is waiting on this key's next sequence number. */
  ack: boolean;
  /** Estimated encoded bytes of this entry. */
  bytes: number;
  /**
   * The AbortSignal-holding publish that alone owns this entry; cleared when another publish
   * merges into it, because then aborting the first must not cancel the second.
   */
  owner: object | undefined;
}

export interface BatcherLimits {
  /** Keys per batch. */
  size: number;
  /** Estimated bytes of the entries of one batch. */
  bytes: number;
}

export class Batcher {
  private pending = new Map<string, PendingEntry>();
  private pendingBytes = 0;

  constructor(readonly limits: BatcherLimits) {}

  get size(): number {
    return this.pending.size;
  }

  get bytes(): number {
    return this.pendingBytes;
  }

  has(key: string): boolean {
    return this.pending.has(key);
  }

  /**
   * True when an entry of `bytes` for a key that is not yet waiting would push the batch past its
   * byte budget: the caller sends what waits first.
   */
  wouldOverflow(key: string, bytes: number): boolean {
    return this.pending.size > 0 && !this.pending.has(key) && this.pendingBytes + bytes > this.limits.bytes;
  }

  /** Queue (or merge into) a key. Returns true when the key was already waiting. */
  add(e: Omit<PendingEntry, 'owner'>, owner?: object): boolean {
    const cur = this.pending.get(e.key);
    if (cur) {
      this.pendingBytes += e.bytes - cur.bytes;
      cur.version = e.version;
      cur.hasValue = e.hasValue;
      cur.value = e.value;
      cur.bytes = e.bytes;
      cur.ack = cur.ack || e.ack;
      cur.owner = undefined;
      return true;
    }
    this.pending.set(e.key, { key: e.key, version: e.version, hasValue: e.hasValue, value: e.value, ack: e.ack, bytes: e.bytes, owner });
    this.pendingBytes += e.bytes;
    return false;
  }

  /** Withdraw a key its owner aborted; false when someone else's publish shares it (or it left). */
  withdraw(key: string, owner: object): boolean {
    const cur = this.pending.get(key);
    if (!cur || cur.owner !== owner) return false;
    this.pending.delete(key);
    this.pendingBytes -= cur.bytes;
    return true;
  }

  /** A batch is due by count or bytes (the interval is the bus's timer). */
  full(): boolean {
    return this.pending.size >= this.limits.size || this.pendingBytes >= this.limits.bytes;
  }

  /** Take the oldest waiting keys: at most `size`, and at most `bytes` (at least one). */
  take(): PendingEntry[] {
    const out: PendingEntry[] = [];
    let bytes = 0;
    for (const e of this.pending.values()) {
      if (out.length >= this.limits.size) break;
      if (out.length > 0 && bytes + e.bytes > this.limits.bytes) break;
      out.push(e);
      bytes += e.bytes;
    }
    this.pendingBytes -= bytes;
    // Emptied: a fresh map, since the next take's iterator would walk past every deleted slot.
    if (out.length === this.pending.size) this.pending = new Map();
    else for (const e of out) this.pending.delete(e.key);
    return out;
  }

  /**
   * Return entries take() handed out and the sender could not fit, ahead of everything waiting
   * (they are older). Keys published since are not among them: take() removed them and the
   * sender puts them back in the same synchronous run.
   */
  putBack(entries: readonly PendingEntry[]): void {
    const next = new Map<string, PendingEntry>();
    for (const e of entries) {
      next.set(e.key, e);
      this.pendingBytes += e.bytes;
    }
    for (const [k, e] of this.pending) next.set(k, e);
    this.pending = next;
  }

  clear(): void {
    this.pending.clear();
    this.pendingBytes = 0;
  }
}

/**
 * An estimate of one event's encoded size, calibrated to the cluster's codec: `base` is the
 * measured bytes an event with an empty key adds to a batch (publisher.ts, entryBase), to which
 * the key's bytes and the growth of its string header are added. It is exact for keys the codec
 * writes verbatim (msgpack always; JSON unless the key holds quotes, backslashes or control
 * characters); when it is short, the exact check before sending splits the batch, so it only
 * ever costs packing, never an oversize packet. Values other than short plain strings, numbers,
 * booleans and null are measured by encoding them (`measure`).
 */
export function estimateEntryBytes(base: number, keyBytes: number, hasValue: boolean, value: unknown, measure: (v: unknown) => number): number {
  // `base` holds an empty key's header and separators; a key over 31 bytes has a longer
  // string header (msgpack str8/str16: up to 2 more bytes).
  let n = base + keyBytes + (keyBytes > 31 ? 2 : 0);
  if (!hasValue) return n;
  if (value === null || typeof value === 'boolean') n += 6;
  else if (typeof value === 'number') n += 24;
  else if (typeof value === 'string' && value.length < 64 && /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/.test(value)) n += value.length + 7;
  else n += measure(value) + 2;
  return n;
}
