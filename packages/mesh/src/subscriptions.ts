/**
 * Who on this node listens to what. A subscription matches one key exactly or every key with a
 * prefix, and is consumed either by a callback (called synchronously, in order) or as an async
 * iterator. An iterator that falls behind never makes the bus grow memory or lose events in
 * silence: its buffer holds `subscriberBuffer` events; past that, what it holds is replaced by one
 * `overflow` event (how many were dropped) that tells it to flush what it caches, and the drop is
 * counted. `gap` events (an origin could not resend what this node missed) go to every
 * subscription, since nobody knows which keys they covered.
 */
import { GrapevineError } from '@grapevine/core';

export interface InvalidateEvent {
  type: 'invalidate';
  key: string;
  /** Present when the publisher sent a value (subscribers may refresh instead of re-read). */
  value?: unknown;
  hasValue: boolean;
  /** The publishing node. */
  origin: string;
  /** The origin's sequence number of this event (per origin run). */
  seq: number;
  /** The origin's hybrid-logical-clock time at publish. */
  version: number;
}

export interface GapEvent {
  type: 'gap';
  origin: string;
  /** First and last sequence number that could not be recovered (the origin's numbering). */
  from: number;
  to: number;
}

export interface OverflowEvent {
  type: 'overflow';
  /** Events this subscriber lost because it did not keep up: flush what you cache. */
  dropped: number;
}

export type MeshEvent = InvalidateEvent | GapEvent | OverflowEvent;

export type SubscribeTarget = string | { prefix: string };

export interface SubscribeOptions {
  signal?: AbortSignal;
}

export class Subscription implements AsyncIterableIterator<MeshEvent> {
  private buffer: MeshEvent[] = [];
  private waiting: ((r: IteratorResult<MeshEvent>) => void) | undefined;
  private ended = false;
  /** Events this subscriber lost to overflow. */
  dropped = 0;
  private onAbort: (() => void) | undefined;

  constructor(
    readonly key: string | undefined,
    readonly prefix: string | undefined,
    private readonly limit: number,
    private readonly callback: ((e: MeshEvent) => void) | undefined,
    private readonly detach: (s: Subscription) => void,
    private readonly onOverflow: (n: number) => void,
    private readonly onCallbackError: (err: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal) {
      this.onAbort = () => this.unsubscribe();
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  matches(key: string): boolean {
    return this.key !== undefined ? this.key === key : key.startsWith(this.prefix!);
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Hand one event to the subscriber. */
  push(e: MeshEvent): void {
    if (this.ended) return;
    if (this.callback) {
      try {
        this.callback(e);
      } catch (err) {
        this.onCallbackError(err);
      }
      return;
    }
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: e, done: false });
      return;
    }
    if (this.buffer.length >= this.limit) {
      // Replace the backlog by one overflow event: the subscriber must flush, so the backlog is moot.
      let lost = 1;
      let before = 0;
      for (const b of this.buffer) {
        if (b.type === 'overflow') before += b.dropped;
        else lost++;
      }
      this.dropped += lost;
      this.onOverflow(lost);
      this.buffer = [{ type: 'overflow', dropped: before + lost }];
      return;
    }
    this.buffer.push(e);
  }

  next(): Promise<IteratorResult<MeshEvent>> {
    const e = this.buffer.shift();
    if (e) return Promise.resolve({ value: e, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.callback) return Promise.reject(new GrapevineError('ERR_INVALID_OPTION', 'a callback subscription is not iterable'));
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<MeshEvent>> {
    this.unsubscribe();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<MeshEvent> {
    return this;
  }

  /** Stop receiving; an iterator ends after what it already buffered. */
  unsubscribe(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.signal && this.onAbort) this.signal.removeEventListener('abort', this.onAbort);
    this.detach(this);
    const w = this.waiting;
    this.waiting = undefined;
    w?.({ value: undefined, done: true });
  }
}

export class Subscriptions {
  /**
   * Exact-key subscriptions. Each list is replaced, never changed, on subscribe/unsubscribe, so
   * delivery walks it as it is (a callback that unsubscribes mid-delivery does not disturb the
   * walk) without a copy per event.
   */
  private readonly byKey = new Map<string, readonly Subscription[]>();
  private readonly byPrefix = new Set<Subscription>();
  /**
   * A snapshot of byPrefix for deliver(), rebuilt only when it changes: delivery runs once per
   * event, subscribe/unsubscribe rarely, and a callback that unsubscribes mid-delivery must not
   * disturb the walk (so no live iteration, and no copy per event either).
   */
  private prefixList: readonly Subscription[] = [];
  private readonly all = new Set<Subscription>();

  constructor(
    private readonly bufferLimit: number,
    private readonly onOverflow: (n: number) => void,
    private readonly onCallbackError: (err: unknown) => void,
  ) {}

  get size(): number {
    return this.all.size;
  }

  add(target: SubscribeTarget, callback: ((e: MeshEvent) => void) | undefined, opts: SubscribeOptions): Subscription {
    let key: string | undefined;
    let prefix: string | undefined;
    if (typeof target === 'string') {
      if (target.length === 0) throw new GrapevineError('ERR_INVALID_OPTION', 'mesh: subscribe key must be a non-empty string');
      key = target;
    } else if (target && typeof target === 'object' && typeof target.prefix === 'string') {
      prefix = target.prefix;
    } else {
      throw new GrapevineError('ERR_INVALID_OPTION', 'mesh: subscribe takes a key or { prefix }');
    }
    const sub = new Subscription(key, prefix, this.bufferLimit, callback, (s) => this.remove(s), this.onOverflow, this.onCallbackError, opts.signal);
    if (opts.signal?.aborted) {
      sub.unsubscribe();
      return sub;
    }
    this.all.add(sub);
    if (key !== undefined) {
      this.byKey.set(key, [...(this.byKey.get(key) ?? []), sub]);
    } else {
      this.byPrefix.add(sub);
      this.prefixList = [...this.byPrefix];
    }
    return sub;
  }

  private remove(s: Subscription): void {
    this.all.delete(s);
    if (s.key !== undefined) {
      const list = this.byKey.get(s.key)?.filter((x) => x !== s);
      if (list && list.length > 0) this.byKey.set(s.key, list);
      else this.byKey.delete(s.key);
    } else if (this.byPrefix.delete(s)) this.prefixList = [...this.byPrefix];
  }

  /** True when some subscription here wants `key`. */
  wants(key: string): boolean {
    if (this.byKey.has(key)) return true;
    for (const s of this.byPrefix) if (s.matches(key)) return true;
    return false;
  }

  /**
   * Deliver an invalidation of `key` to every matching subscription; returns how many got it.
   * The event object is made at the first match: a key nobody here listens to costs a Map
   * lookup and the prefix tests, no allocation.
   */
  deliver(key: string, origin: string, seq: number, version: number, hasValue: boolean, value: unknown): number {
    let e: InvalidateEvent | undefined;
    let n = 0;
    // Not even looked up when nobody subscribes by exact key: a lookup hashes the key, a string
    // just decoded from the packet whose hash nobody has computed yet.
    const exact = this.byKey.size > 0 ? this.byKey.get(key) : undefined;
    if (exact) {
      e = invalidation(key, origin, seq, version, hasValue, value);
      for (let i = 0; i < exact.length; i++) (exact[i]!.push(e), n++);
    }
    const list = this.prefixList;
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      if (s.matches(key)) (s.push((e ??= invalidation(key, origin, seq, version, hasValue, value))), n++);
    }
    return n;
  }

  /** Deliver a gap to everyone. */
  broadcast(e: GapEvent): void {
    for (const s of [...this.all]) s.push(e);
  }

  closeAll(): void {
    for (const s of [...this.all]) s.unsubscribe();
  }
}

function invalidation(key: string, origin: string, seq: number, version: number, hasValue: boolean, value: unknown): InvalidateEvent {
  const ev: InvalidateEvent = { type: 'invalidate', key, hasValue, origin, seq, version };
  if (hasValue) ev.value = value;
  return ev;
}
