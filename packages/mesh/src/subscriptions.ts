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
  private readonly byKey = new Map<string, Set<Subscription>>();
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
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      set.add(sub);
    } else {
      this.byPrefix.add(sub);
      this.prefixList = [...this.byPrefix];
    }
    return sub;
  }

  private remove(s: Subscription): void {
    this.all.delete(s);
    if (s.key !== undefined) {
      const set = this.byKey.get(s.key);
      set?.delete(s);
      if (set && set.size === 0) this.byKey.delete(s.key);
    } else if (this.byPrefix.delete(s)) this.prefixList = [...this.byPrefix];
  }

  /** True when some subscription here wants `key`. */
  wants(key: string): boolean {
    if (this.byKey.has(key)) return true;
    for (const s of this.byPrefix) if (s.matches(key)) return true;
    return false;
  }

  /** Deliver an invalidation to every matching subscription; returns how many got it. */
  deliver(e: InvalidateEvent): number {
    let n = 0;
    const exact = this.byKey.get(e.key);
    if (exact) for (const s of [...exact]) (s.push(e), n++);
    const list = this.prefixList;
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      if (s.matches(e.key)) (s.push(e), n++);
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
