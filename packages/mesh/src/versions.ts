/**
 * What a receiver knows about each origin's numbering, and about each key's newest version.
 *
 * Every event carries (origin, epoch, sequence number, version). The epoch names one run of the
 * origin's bus (its process instance): a restarted origin numbers from 1 again under a new epoch.
 * Within an epoch, a receiver delivers in sequence order: an event ahead of the next expected one is
 * held (bounded) until the missing ones come by gossip or by a fetch; one at or below what was
 * delivered is a duplicate. The version is the origin's hybrid-logical-clock time at publish:
 * across origins, an event for a key older than the version already delivered for that key is
 * stale and dropped (its news is older than what the subscriber already has).
 */
import { VersionTable } from './version-table.js';
import type { WireEvent } from './wire.js';

export type Offer = 'duplicate' | 'held' | 'next' | 'overflow';

/** One origin epoch's receive state. */
export class OriginStream {
  /** Highest sequence number delivered in order (or skipped over by a gap). */
  delivered: number;
  /** Newest sequence number the origin is known to have sent. */
  knownHead: number;
  private held = new Map<number, WireEvent>();
  /**
   * Clock time since which the event after `delivered` has been missing (undefined: complete).
   * It restarts whenever `delivered` moves on, so the recovery delay is the age of the current
   * hole, not of the first one of a busy stream that is never quite complete.
   */
  missingSince: number | undefined;
  /** The `delivered` position `missingSince` belongs to. */
  missingAt = -1;
  /**
   * The newest sequence number this receiver dropped because the hold was full. Gossip will not
   * bring those again (the cluster dedups broadcasts), so holes up to it are fetched at once.
   */
  droppedUpTo = 0;
  /** A fetch to the origin is under way. */
  fetching = false;

  constructor(readonly epoch: number, start: number, private readonly maxHeld: number) {
    this.delivered = start;
    this.knownHead = start;
  }

  /** The last sequence number of the hole after `delivered`: just before the first held event, or the known head. */
  holeEnd(): number {
    let end = this.knownHead;
    for (const seq of this.held.keys()) if (seq < end + 1 && seq > this.delivered) end = seq - 1;
    return Math.max(end, this.delivered + 1);
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** Place one event. 'next' means it is the next in order: call drain(). */
  offer(seq: number, e: WireEvent): Offer {
    if (seq > this.knownHead) this.knownHead = seq;
    if (seq <= this.delivered || this.held.has(seq)) return 'duplicate';
    if (seq !== this.delivered + 1 && this.held.size >= this.maxHeld) {
      if (seq > this.droppedUpTo) this.droppedUpTo = seq;
      return 'overflow';
    }
    this.held.set(seq, e);
    return seq === this.delivered + 1 ? 'next' : 'held';
  }

  /** Deliver `seq`, the next in order, without holding it (the caller checked nothing is held). */
  advance(seq: number): void {
    this.delivered = seq;
    if (seq > this.knownHead) this.knownHead = seq;
  }

  /** The events now deliverable in order, removing them from the hold. */
  drain(): { seq: number; event: WireEvent }[] {
    const out: { seq: number; event: WireEvent }[] = [];
    for (;;) {
      const e = this.held.get(this.delivered + 1);
      if (!e) break;
      this.held.delete(this.delivered + 1);
      this.delivered++;
      out.push({ seq: this.delivered, event: e });
    }
    return out;
  }

  /** The origin announced its head. */
  noteHead(head: number): void {
    if (head > this.knownHead) this.knownHead = head;
  }

  /** Something is known to exist that has not been delivered. */
  get incomplete(): boolean {
    return this.knownHead > this.delivered;
  }

  /**
   * The origin no longer holds anything up to `to`: step over it. Returns, in order, the missing
   * runs (to report as gaps) and the held events inside the range (still delivered: we have them).
   */
  skipTo(to: number): ({ gap: [number, number] } | { seq: number; event: WireEvent })[] {
    const out: ({ gap: [number, number] } | { seq: number; event: WireEvent })[] = [];
    if (to <= this.delivered) return out;
    const inside = [...this.held.keys()].filter((seq) => seq <= to).sort((a, b) => a - b);
    let next = this.delivered + 1;
    for (const seq of inside) {
      if (seq > next) out.push({ gap: [next, seq - 1] });
      out.push({ seq, event: this.held.get(seq)! });
      this.held.delete(seq);
      next = seq + 1;
    }
    if (next <= to) out.push({ gap: [next, to] });
    this.delivered = to;
    if (to > this.knownHead) this.knownHead = to;
    return out;
  }
}

/**
 * Newest delivered version per key, for the stale rule. Bounded in two generations: keys are
 * recorded in the current one; when it holds ceil(max/2) records it becomes the old one and the
 * previous old one is forgotten whole. So at most `max` records are held, and the keys of the
 * ceil(max/2) most recent admissions always are. (A record is a key's entry in a generation; a key
 * recorded twice, apart, without a lookup between — see `top` — takes two, so a generation can hold
 * fewer distinct keys than ceil(max/2).) An event for a forgotten key is delivered, never dropped:
 * losing the record can only cause a redundant invalidation, never a missed one.
 *
 * Why not one Map that drops its first key per insert: a Map iterator walks past the deleted
 * slots at the front of V8's table until it is rehashed, so at the bound that eviction cost grew
 * to ~100 µs per event (measured: 300,000 distinct keys at max 100,000). Why not two Maps either:
 * inserting a just-decoded key into a growing Map was the largest part of a receiver's per-event
 * CPU (version-table.ts says why); each generation is a flat open-addressing table instead, and a
 * key moved from the old generation to the current one leaves its old copy behind (shadowed: the
 * current one is looked up first), so nothing is ever deleted.
 */
export class KeyVersions {
  private cur: VersionTable;
  private old: VersionTable;
  private readonly generation: number;
  /**
   * At least the newest version recorded in either generation (it is not lowered when the old
   * one is forgotten). An event at or above it is stale for no key, so it needs no stale check,
   * only to be recorded — either way below (`deferring`) — and the old generation is not searched.
   */
  private top = 0;
  /**
   * How in-order events are recorded. Looked up in the current generation's index (updated in
   * place when the key is there, inserted when not), or deferred (VersionTable.defer: two stores,
   * indexed only once an older event needs a lookup). A stream of new keys — a bulk invalidation,
   * the throughput bench's 100,000 distinct keys — is cheaper deferred: its inserts miss the cache
   * of a table that, at 100,000 keys per node, no longer fits, and grow it. A set of keys that
   * recur is cheaper looked up: an update in a small table is cached and keeps no new string,
   * where a deferred record per event kept every key string (distinct-key publish() 1.87 → 1.62 M/s
   * when the publisher deferred its 5,000 recurring keys). So the bus measures: every `window`
   * lookups it defers if fewer than one in eight found their key, and while deferring it still
   * looks up one in-order event in 16, to notice keys recurring again.
   */
  private deferring = false;
  private inOrder = 0;
  private looks = 0;
  private hits = 0;

  /** `seed` varies the key hash per bus (any integer); `window` (lookups per choice) is for tests. */
  constructor(private readonly max: number, seed = 0, private readonly window = 256) {
    this.generation = Math.max(1, Math.ceil(max / 2));
    this.cur = new VersionTable(seed | 0);
    this.old = new VersionTable(seed | 0);
  }

  /**
   * Keys recorded (a key re-recorded since its generation turned old counts twice, and so does
   * one recorded twice, apart, while no lookup was needed).
   */
  get size(): number {
    return this.cur.size + this.cur.deferred + this.old.size + this.old.deferred;
  }

  /**
   * True (and remembered) unless an event with a newer version was delivered for `key`. Equal
   * versions pass: two origins' clocks can give the same time to two different writes.
   */
  admit(key: string, version: number): boolean {
    if (this.max === 0) return true;
    const cur = this.cur;
    if (version >= this.top) {
      this.top = version;
      if (this.deferring && (++this.inOrder & 15) !== 0) cur.defer(key, version);
      else {
        // The index only, not settled: a deferred record of this key is older than `version`
        // (settle keeps the newer of the two), so recording it again here is right either way.
        const h = cur.hash(key);
        const at = cur.find(key, h);
        this.looks++;
        if (at >= 0) {
          this.hits++;
          cur.setVersion(at, version);
        } else cur.insert(key, h, version);
        if (this.looks >= this.window) {
          this.deferring = this.hits * 8 < this.looks;
          this.looks = 0;
          this.hits = 0;
        }
      }
      if (cur.size + cur.deferred >= this.generation) this.turn();
      return true;
    }
    // Older than something recorded: look the key up, with everything recorded indexed.
    cur.settle();
    const h = cur.hash(key);
    const at = cur.find(key, h);
    if (at >= 0) {
      const v = cur.version(at);
      if (version < v) return false;
      if (version !== v) cur.setVersion(at, version);
      return true;
    }
    const old = this.old;
    if (old.size + old.deferred > 0) {
      old.settle();
      const o = old.find(key, h);
      if (o >= 0 && version < old.version(o)) return false;
    }
    cur.insert(key, h, version);
    if (cur.size + cur.deferred >= this.generation) this.turn();
    return true;
  }

  /**
   * The current generation is full: it turns old, and the old one is forgotten whole. Its arrays
   * hold the next one, sized for a full generation once it is indexed (this one filled up, so
   * the next likely will: no regrowing step by step).
   */
  private turn(): void {
    const old = this.old;
    old.clear();
    old.reserveLater(this.generation);
    this.old = this.cur;
    this.cur = old;
  }

  get(key: string): number | undefined {
    return this.cur.get(key) ?? this.old.get(key);
  }
}
