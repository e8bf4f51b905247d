/**
 * The publish side's waiting room. Keys wait here until a batch is due: `batchSize` keys, or
 * `batchBytes` bytes, or `batchInterval` ms after the first one came (the bus owns the timer).
 *
 * Pending-dedup: a key that is already waiting is not queued twice; a later publish of it only
 * replaces the value and version (the newest write is the one receivers should see) and may add an
 * acknowledgement request. So a hot key costs one slot per batch however often it changes.
 *
 * Waiting keys are kept as columns (parallel arrays: keys, versions, estimated bytes, and only
 * when some publish needs them flags, values and owners) with a Map from key to its position, so
 * a publish allocates no object of its own, and a batch that takes everything waiting hands the
 * arrays over as they are: its keys array is the one the wire format carries and the origin log
 * keeps (publisher.ts). An object per publish, copied into a log record per event, made the
 * collector the largest item of a distinct-key publish (30% of the enqueue bench's CPU).
 *
 * Sizes are estimated cheaply (a publish must stay a few hundred nanoseconds); the bus checks
 * the exact encoded size of every batch before it is sent and splits one that would not fit.
 */

/** Flag bits of an event: it carries a value; some publishAndAwait waits on its sequence number. */
export const HAS_VALUE = 1;
export const ACK = 2;

/** Events in publish order, as columns: what a batch carries and the origin log keeps. */
export interface EventColumns {
  keys: string[];
  /** Absolute versions (the origin's HLC times). */
  versions: number[];
  /** HAS_VALUE | ACK per event; undefined when every event is a bare invalidation. */
  flags: number[] | undefined;
  /** The value of each event that has HAS_VALUE (others undefined); undefined when none has one. */
  values: unknown[] | undefined;
}

/** What take() hands out: the columns, each event's estimated bytes and its key's UTF-8 length. */
export interface PendingBatch extends EventColumns {
  bytes: number[];
  /** UTF-8 length of each key, so a bare batch's exact size is a sum (batch-sizer.ts). */
  keyBytes: number[];
  /** Each event's owning publish (Batcher.add's `owner`), kept so a put-back event can still be withdrawn. */
  owners?: (object | undefined)[] | undefined;
}

export interface BatcherLimits {
  /** Keys per batch. */
  size: number;
  /** Estimated bytes of the entries of one batch. */
  bytes: number;
}

/** A withdrawn slot's `bytes` (the slot stays until the next take; its key left the index). */
const WITHDRAWN = -1;

export class Batcher {
  private keys: string[] = [];
  private versions: number[] = [];
  private bytesOf: number[] = [];
  private keyBytes: number[] = [];
  private flags: number[] | undefined;
  private values: unknown[] | undefined;
  /**
   * The AbortSignal-holding publish that alone owns each slot; cleared when another publish
   * merges into it, because then aborting the first must not cancel the second.
   */
  private owners: (object | undefined)[] | undefined;
  /** Waiting key → its slot. */
  private index = new Map<string, number>();
  private withdrawn = 0;
  private pendingBytes = 0;

  constructor(readonly limits: BatcherLimits) {}

  get size(): number {
    return this.index.size;
  }

  get bytes(): number {
    return this.pendingBytes;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  /**
   * True when an entry of `bytes` for a key that is not yet waiting would push the batch past its
   * byte budget: the caller sends what waits first.
   */
  wouldOverflow(key: string, bytes: number): boolean {
    return this.index.size > 0 && this.pendingBytes + bytes > this.limits.bytes && !this.index.has(key);
  }

  /**
   * Queue (or merge into) a key. Returns true when the key was already waiting. `keyBytes` is the
   * key's UTF-8 length (-1 when the caller does not know it: the batch is then measured by encoding).
   */
  add(key: string, version: number, hasValue: boolean, value: unknown, ack: boolean, bytes: number, owner?: object, keyBytes = -1): boolean {
    const at = this.index.get(key);
    if (at !== undefined) {
      this.pendingBytes += bytes - this.bytesOf[at]!;
      this.versions[at] = version;
      this.bytesOf[at] = bytes;
      if (hasValue || ack || this.flags) {
        const f = (this.flags ??= zeros(this.keys.length));
        f[at] = (hasValue ? HAS_VALUE : 0) | (ack ? ACK : f[at]! & ACK);
      }
      if (hasValue) (this.values ??= new Array<unknown>(this.keys.length).fill(undefined))[at] = value;
      else if (this.values) this.values[at] = undefined;
      if (this.owners) this.owners[at] = undefined;
      return true;
    }
    const n = this.keys.length;
    this.index.set(key, n);
    this.keys.push(key);
    this.versions.push(version);
    this.bytesOf.push(bytes);
    this.keyBytes.push(keyBytes);
    if (hasValue || ack || this.flags) (this.flags ??= zeros(n)).push((hasValue ? HAS_VALUE : 0) | (ack ? ACK : 0));
    if (hasValue || this.values) (this.values ??= new Array<unknown>(n).fill(undefined)).push(hasValue ? value : undefined);
    if (owner || this.owners) (this.owners ??= new Array<object | undefined>(n).fill(undefined)).push(owner);
    this.pendingBytes += bytes;
    return false;
  }

  /** Withdraw a key its owner aborted; false when someone else's publish shares it (or it left). */
  withdraw(key: string, owner: object): boolean {
    const at = this.index.get(key);
    if (at === undefined || this.owners?.[at] !== owner) return false;
    this.index.delete(key);
    this.pendingBytes -= this.bytesOf[at]!;
    this.bytesOf[at] = WITHDRAWN;
    this.owners[at] = undefined;
    if (this.values) this.values[at] = undefined;
    this.withdrawn++;
    return true;
  }

  /** A batch is due by count or bytes (the interval is the bus's timer). */
  full(): boolean {
    return this.index.size >= this.limits.size || this.pendingBytes >= this.limits.bytes;
  }

  /** Take the oldest waiting keys: at most `size`, and at most `bytes` (at least one). */
  take(): PendingBatch {
    const { size, bytes: budget } = this.limits;
    const n = this.keys.length;
    if (this.withdrawn === 0 && n <= size && this.pendingBytes <= budget) {
      // Everything waiting fits: hand the columns over whole.
      const out: PendingBatch = { keys: this.keys, versions: this.versions, flags: this.flags, values: this.values, bytes: this.bytesOf, keyBytes: this.keyBytes, owners: this.owners };
      this.reset();
      return out;
    }
    let count = 0;
    let bytes = 0;
    let end = 0;
    for (; end < n; end++) {
      const b = this.bytesOf[end]!;
      if (b === WITHDRAWN) continue;
      if (count >= size || (count > 0 && bytes + b > budget)) break;
      count++;
      bytes += b;
    }
    const out = this.slots(0, end);
    const rest = this.slots(end, n);
    this.reset();
    this.append(rest, 0);
    return out;
  }

  /**
   * Return the events of `batch` from `from` on, which take() handed out and the sender could not
   * fit, ahead of everything waiting (they are older). Keys published since are not among them:
   * take() removed them and the sender puts them back in the same synchronous run.
   */
  putBack(batch: PendingBatch, from: number): void {
    const waiting = this.slots(0, this.keys.length);
    this.reset();
    this.append(batch, from);
    this.append(waiting, 0);
  }

  clear(): void {
    this.reset();
  }

  private reset(): void {
    this.keys = [];
    this.versions = [];
    this.bytesOf = [];
    this.keyBytes = [];
    this.flags = undefined;
    this.values = undefined;
    this.owners = undefined;
    this.index = new Map();
    this.withdrawn = 0;
    this.pendingBytes = 0;
  }

  /** The live slots in [from, to) as a batch (copies; withdrawn slots left out). */
  private slots(from: number, to: number): PendingBatch {
    const out = { keys: [] as string[], versions: [] as number[], bytes: [] as number[], keyBytes: [] as number[], flags: this.flags && ([] as number[]), values: this.values && ([] as unknown[]), owners: this.owners && ([] as (object | undefined)[]) };
    for (let i = from; i < to; i++) {
      if (this.bytesOf[i] === WITHDRAWN) continue;
      out.keys.push(this.keys[i]!);
      out.versions.push(this.versions[i]!);
      out.bytes.push(this.bytesOf[i]!);
      out.keyBytes.push(this.keyBytes[i]!);
      out.flags?.push(this.flags![i]!);
      out.values?.push(this.values![i]);
      out.owners?.push(this.owners![i]);
    }
    return out;
  }

  /** Add the events of `b` from `from` on, as waiting keys (none of them is waiting already). */
  private append(b: PendingBatch, from: number): void {
    for (let i = from; i < b.keys.length; i++) {
      const f = b.flags?.[i] ?? 0;
      this.add(b.keys[i]!, b.versions[i]!, (f & HAS_VALUE) !== 0, b.values?.[i], (f & ACK) !== 0, b.bytes[i]!, b.owners?.[i], b.keyBytes[i]);
    }
  }
}

function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
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
