/**
 * The receive side: per-origin ordering, gap detection and recovery of missed events.
 *
 * - Batches from an origin go into its OriginStream; whatever is next in order is delivered.
 * - When something is missing (a hole before held events, or a head announcement ahead of what
 *   was delivered) and gossip has not filled it within `recoveryDelay`, the receiver fetches the
 *   events from the origin's log by request/reply, page by page.
 * - When the origin's log no longer holds them (too old, or the origin restarted and lost them),
 *   the receiver steps over them and emits one `gap` {origin, from, to}: the application flushes.
 * - An origin seen for the first time is asked "fresh" where this process should start (a
 *   restarted process under a known name is owed what it missed; see rejoin-marks.ts).
 * - When an origin comes back (alive after suspect/dead/left, healed partition, restart) the
 *   receiver fetches from where it is, to learn what it missed in between.
 *
 * The gap rule, exactly: a gap is reported only for sequence numbers that the origin said it no
 * longer holds (or that belong to an origin run that ended), never because a fetch failed: failed
 * fetches are retried while the origin is live, and for `retentionWindow` after it is not.
 */
import { GrapevineError, type Clock, type TimerHandle } from '@grapevine/core';
import type { ResolvedMeshOptions } from './options.js';
import { OriginStream } from './versions.js';
import { ACK, HAS_VALUE, type EventColumns } from './batcher.js';
import { eventAt, type BatchColumns, type FetchReply, type FetchReq, type WireEvent } from './wire.js';

export interface RecoveryHost {
  readonly clock: Clock;
  readonly opts: ResolvedMeshOptions;
  /** This process's instance id (sent on fresh fetches). */
  readonly instance: number;
  /** ms since this bus started (sent on fresh fetches). */
  uptime(): number;
  /** Ask an origin for events. */
  fetch(origin: string, req: FetchReq): Promise<FetchReply>;
  /** Is `origin` a live member right now? */
  isLive(origin: string): boolean;
  /** Events ready in order. */
  deliver(origin: string, epoch: number, seq: number, e: WireEvent): void;
  /** Event `i` of a batch, ready in order (the in-order path, from the batch's columns). */
  deliverAt(origin: string, epoch: number, seq: number, b: EventColumns, i: number): void;
  gap(origin: string, from: number, to: number): void;
  count(name: string, by?: number): void;
}

interface OriginState {
  /** Last clock time anything was heard from or about this origin. */
  lastHeard: number;
  /** The current run's stream; undefined while the first-contact fetch is out. */
  stream: OriginStream | undefined;
  epoch: number;
  /**
   * Batches that came before the first-contact fetch answered, as they came (columns), and how
   * many events they hold (bounded by maxHeldEvents; a copy counts again).
   */
  early: BatchColumns[] | undefined;
  earlyCount: number;
  timer: TimerHandle | undefined;
  failures: number;
}

export class Recovery {
  private origins = new Map<string, OriginState>();
  private closed = false;

  constructor(private readonly host: RecoveryHost) {}

  get size(): number {
    return this.origins.size;
  }

  /** Origin names with their delivered position (for diagnostics and tests). */
  positions(): Map<string, { epoch: number; delivered: number; knownHead: number; held: number }> {
    const out = new Map<string, { epoch: number; delivered: number; knownHead: number; held: number }>();
    for (const [name, st] of this.origins) {
      if (st.stream) out.set(name, { epoch: st.epoch, delivered: st.stream.delivered, knownHead: st.stream.knownHead, held: st.stream.heldCount });
    }
    return out;
  }

  /** Every origin is complete: nothing known to exist is undelivered. */
  get settled(): boolean {
    for (const st of this.origins.values()) if (!st.stream || st.stream.incomplete) return false;
    return true;
  }

  /** `heard`: the first sequence number of the batch that brought us here (0: a head announcement). */
  private state(origin: string, epoch: number, heard: number): OriginState | undefined {
    const now = this.host.clock.now();
    let st = this.origins.get(origin);
    if (!st) {
      st = { lastHeard: now, stream: undefined, epoch, early: [], earlyCount: 0, timer: undefined, failures: 0 };
      this.origins.set(origin, st);
      this.evictOrigins();
      this.startFresh(origin, st, heard);
      return st;
    }
    if (epoch < st.epoch) {
      // A retired process's news (its successor already spoke): nothing to deliver.
      this.host.count('grapevine.mesh.stale', 1);
      return undefined;
    }
    this.origins.delete(origin);
    this.origins.set(origin, st); // most recently heard last
    st.lastHeard = now;
    if (epoch > st.epoch) this.newEpoch(origin, st, epoch);
    return st;
  }

  private evictOrigins(): void {
    while (this.origins.size > this.host.opts.maxOrigins) {
      const [name, st] = this.origins.entries().next().value as [string, OriginState];
      st.timer?.cancel();
      this.origins.delete(name);
      this.host.count('grapevine.mesh.origins-evicted', 1);
    }
  }

  /**
   * The origin restarted: what its old run sent and we never got is gone with it. Its new run's
   * events are all for us (we knew it before), so the new stream starts at 0.
   */
  private newEpoch(origin: string, st: OriginState, epoch: number): void {
    if (st.stream && st.stream.incomplete) this.skip(origin, st, st.stream.knownHead);
    st.epoch = epoch;
    if (st.early) {
      // A first-contact fetch is out for the old run; its answer will be ignored.
      st.early = [];
      st.earlyCount = 0;
      this.startFresh(origin, st, 0);
      return;
    }
    st.stream = new OriginStream(epoch, 0, this.host.opts.maxHeldEvents);
    st.failures = 0;
  }

  /** A batch from `origin`. */
  receiveBatch(origin: string, b: BatchColumns): void {
    if (this.closed) return;
    const st = this.state(origin, b.epoch, b.first);
    if (!st) return;
    if (!st.stream) return this.holdEarly(st, b);
    this.feed(origin, st, b);
    this.checkComplete(origin, st);
  }

  /** Events as objects from `origin` (a batch the way tests and older callers hand it over). */
  receive(origin: string, epoch: number, first: number, events: readonly WireEvent[]): void {
    const n = events.length;
    const b: BatchColumns = { epoch, first, keys: new Array<string>(n), versions: new Array<number>(n), flags: new Array<number>(n), values: new Array<unknown>(n), maxVersion: 0 };
    events.forEach((e, i) => {
      b.keys[i] = e.key;
      b.versions[i] = e.version;
      b.flags![i] = (e.hasValue ? HAS_VALUE : 0) | (e.ack ? ACK : 0);
      b.values![i] = e.value;
    });
    this.receiveBatch(origin, b);
  }

  /** Keep a batch that came while the first-contact fetch is out, as far as the bound allows. */
  private holdEarly(st: OriginState, b: BatchColumns): void {
    const room = this.host.opts.maxHeldEvents - st.earlyCount;
    const n = b.keys.length;
    if (room < n) this.host.count('grapevine.mesh.held-overflow', n - Math.max(0, room));
    if (room <= 0) return;
    st.early!.push(room >= n ? b : { ...b, keys: b.keys.slice(0, room), versions: b.versions.slice(0, room), flags: b.flags?.slice(0, room), values: b.values?.slice(0, room) });
    st.earlyCount += Math.min(room, n);
  }

  /**
   * Offer a batch to its origin's stream (the caller checks completeness). The common case —
   * nothing held, and the batch continues the order — is delivered straight from its columns;
   * any other goes through the hold, an event at a time.
   */
  private feed(origin: string, st: OriginState, b: BatchColumns): void {
    const s = st.stream!;
    const { first } = b;
    const n = b.keys.length;
    let dup = 0;
    if (s.heldCount === 0 && first <= s.delivered + 1 && first + n - 1 > s.delivered) {
      dup = s.delivered + 1 - first;
      for (let i = dup; i < n; i++) {
        s.advance(first + i);
        this.host.deliverAt(origin, st.epoch, first + i, b, i);
      }
      if (dup > 0) this.host.count('grapevine.mesh.duplicates', dup);
      return;
    }
    let overflow = 0;
    for (let i = 0; i < n; i++) {
      const r = s.offer(first + i, eventAt(b, i));
      if (r === 'duplicate') dup++;
      else if (r === 'overflow') overflow++;
    }
    if (dup > 0) this.host.count('grapevine.mesh.duplicates', dup);
    if (overflow > 0) this.host.count('grapevine.mesh.held-overflow', overflow);
    for (const { seq, event } of s.drain()) this.host.deliver(origin, st.epoch, seq, event);
  }

  /** An origin announced its newest sequence number. */
  head(origin: string, epoch: number, head: number): void {
    if (this.closed) return;
    const st = this.state(origin, epoch, 0);
    if (!st?.stream) return;
    st.stream.noteHead(head);
    this.checkComplete(origin, st);
  }

  /** The origin is live again after being suspect, dead, left, or restarted: look for what we missed. */
  originBack(origin: string): void {
    const st = this.origins.get(origin);
    if (!st || this.closed) return;
    st.failures = 0;
    if (st.stream && !st.stream.fetching) void this.fetchMore(origin, st, true);
  }

  private offer(origin: string, st: OriginState, first: number, events: readonly WireEvent[]): void {
    const s = st.stream!;
    let dup = 0;
    let overflow = 0;
    // The common case — nothing held, and the batch continues the order — is delivered straight
    // through, without passing each event through the hold.
    if (s.heldCount === 0 && first <= s.delivered + 1 && first + events.length - 1 > s.delivered) {
      dup = s.delivered + 1 - first;
      for (let i = dup; i < events.length; i++) {
        s.advance(first + i);
        this.host.deliver(origin, st.epoch, first + i, events[i]!);
      }
      if (dup > 0) this.host.count('grapevine.mesh.duplicates', dup);
      this.checkComplete(origin, st);
      return;
    }
    for (let i = 0; i < events.length; i++) {
      const r = s.offer(first + i, events[i]!);
      if (r === 'duplicate') dup++;
      else if (r === 'overflow') overflow++;
    }
    if (dup > 0) this.host.count('grapevine.mesh.duplicates', dup);
    if (overflow > 0) this.host.count('grapevine.mesh.held-overflow', overflow);
    for (const { seq, event } of s.drain()) this.host.deliver(origin, st.epoch, seq, event);
    this.checkComplete(origin, st);
  }

  private checkComplete(origin: string, st: OriginState): void {
    const s = st.stream!;
    if (!s.incomplete) {
      s.missingSince = undefined;
      return;
    }
    const now = this.host.clock.now();
    // A new hole (or the old one filled and a later one opened): its own recovery delay starts.
    // Under a steady stream, gossip's reordering keeps some hole open nearly all the time; timing
    // from the first one fetched events that were a few ms late (all duplicates by the time the
    // reply came), and a lagging receiver's fetch could even fall behind the log and report a gap.
    if (s.missingSince === undefined || s.missingAt !== s.delivered) {
      s.missingSince = now;
      s.missingAt = s.delivered;
    }
    if (s.delivered < s.droppedUpTo) {
      // We dropped some of what is missing (full hold): no copy is on its way, fetch now.
      if (s.fetching) return;
      st.timer?.cancel();
      st.timer = undefined;
      this.schedule(origin, st, 0, true);
      return;
    }
    this.schedule(origin, st, this.host.opts.recoveryDelay);
  }

  /** Fetch after `delay`: the current hole's own recovery delay, or (`backoff`) a retry's. */
  private schedule(origin: string, st: OriginState, delay: number, backoff = false): void {
    if (st.timer || this.closed) return;
    st.timer = this.host.clock.setTimer(() => {
      st.timer = undefined;
      if (this.closed || this.origins.get(origin) !== st) return;
      const s = st.stream;
      if (!s || !s.incomplete || s.fetching) return;
      if (!backoff) {
        // The hole that armed this timer was filled and a younger one is open: wait out its delay.
        const now = this.host.clock.now();
        if (s.missingSince === undefined || s.missingAt !== s.delivered) {
          s.missingSince = now;
          s.missingAt = s.delivered;
        }
        const left = this.host.opts.recoveryDelay - (now - s.missingSince);
        if (left > 0) return this.schedule(origin, st, left);
      }
      void this.fetchMore(origin, st, false);
    }, delay);
  }

  /**
   * First contact: ask where to start. `heard` is the first sequence number that reached us by
   * broadcast (0: none yet, a head announcement brought us here). When we hear the origin's
   * batches, the reply carries no events: the batches around the first one keep arriving while
   * the request is out (and in any order), so a page from the owed number was duplicates by
   * the time it came (500 per receiver in the throughput bench). A hole before `heard` is
   * fetched like any other, once it stayed open for `recoveryDelay`.
   */
  private startFresh(origin: string, st: OriginState, heard: number): void {
    const epoch = st.epoch;
    this.host.count('grapevine.mesh.fetches', 1);
    this.host
      .fetch(origin, { epoch, from: heard, fresh: true, instance: this.host.instance, uptime: this.host.uptime(), to: 0 })
      .then(
        (reply) => this.freshAnswer(origin, st, epoch, reply),
        () => this.freshAnswer(origin, st, epoch, undefined),
      );
  }

  private freshAnswer(origin: string, st: OriginState, epoch: number, reply: FetchReply | undefined): void {
    if (this.closed || this.origins.get(origin) !== st || st.epoch !== epoch || st.stream) return;
    let early = st.early!;
    st.early = undefined;
    st.earlyCount = 0;
    let start: number;
    if (reply && reply.epoch === epoch && reply.owed !== null) start = reply.owed - 1;
    // No answer: start with the first event heard (anything before it this run never saw).
    else if (early.length > 0) start = early.reduce((m, b) => Math.min(m, b.first), Infinity) - 1;
    else if (reply && reply.epoch === epoch) start = reply.head;
    else start = 0;
    // A reply from a newer run than the batches that made us ask: follow the newer run.
    if (reply && reply.epoch > epoch) {
      st.epoch = reply.epoch;
      start = reply.owed !== null ? reply.owed - 1 : reply.head;
      early = [];
    }
    st.stream = new OriginStream(st.epoch, start, this.host.opts.maxHeldEvents);
    for (const b of early.sort((x, y) => x.first - y.first)) this.feed(origin, st, b);
    if (reply && reply.epoch === st.epoch) this.applyReply(origin, st, reply);
    else {
      for (const { seq, event } of st.stream.drain()) this.host.deliver(origin, st.epoch, seq, event);
      this.checkComplete(origin, st);
    }
  }

  private applyReply(origin: string, st: OriginState, reply: FetchReply): void {
    const s = st.stream!;
    s.noteHead(reply.head);
    // The gap rule: what the origin says it no longer holds is reported once and stepped over.
    for (const { seq, event } of s.drain()) this.host.deliver(origin, st.epoch, seq, event);
    if (reply.oldest > s.delivered + 1) this.skip(origin, st, Math.min(reply.oldest - 1, reply.head));
    if (reply.events.length > 0) this.host.count('grapevine.mesh.fetched-events', reply.events.length);
    this.offer(origin, st, reply.first, reply.events);
  }

  /** Step over everything up to `to`: a gap for each missing run, held events delivered between. */
  private skip(origin: string, st: OriginState, to: number): void {
    const s = st.stream!;
    for (const item of s.skipTo(to)) {
      if ('gap' in item) this.reportGap(origin, item.gap[0], item.gap[1]);
      else this.host.deliver(origin, st.epoch, item.seq, item.event);
    }
    for (const { seq, event } of s.drain()) this.host.deliver(origin, st.epoch, seq, event);
  }

  private reportGap(origin: string, from: number, to: number): void {
    this.host.count('grapevine.mesh.gaps', 1);
    this.host.gap(origin, from, to);
  }

  private async fetchMore(origin: string, st: OriginState, sync: boolean): Promise<void> {
    const s = st.stream!;
    if (s.fetching) return;
    s.fetching = true;
    const epoch = st.epoch;
    // After a rejoin (sync) ask as far as a page goes: what the origin sent meanwhile is unknown.
    const to = sync ? 0 : s.holeEnd();
    this.host.count('grapevine.mesh.fetches', 1);
    let reply: FetchReply | undefined;
    let error: unknown;
    try {
      // Only the hole: the events after it are here already (a whole page would be duplicates).
      reply = await this.host.fetch(origin, { epoch, from: s.delivered + 1, fresh: false, instance: this.host.instance, uptime: 0, to });
    } catch (err) {
      error = err;
    }
    s.fetching = false;
    if (this.closed || this.origins.get(origin) !== st || st.stream !== s) return;
    if (!reply) {
      this.host.count('grapevine.mesh.fetch-failed', 1);
      st.failures++;
      this.afterFailure(origin, st, error);
      return;
    }
    st.failures = 0;
    if (reply.epoch > epoch) {
      // It restarted: the old run's missing events are gone; the new run starts at 1.
      this.newEpoch(origin, st, reply.epoch);
      void this.fetchMore(origin, st, true);
      return;
    }
    if (reply.epoch < epoch) return;
    const before = s.delivered;
    this.applyReply(origin, st, reply);
    // More pages of the same hole (the reply stopped short of it): go on at once while we make
    // progress. A later hole waits out its own recovery delay (checkComplete armed it).
    const short = to === 0 || reply.first + reply.events.length - 1 < to || s.delivered < s.droppedUpTo;
    if (s.incomplete && s.delivered > before && short && !s.fetching) void this.fetchMore(origin, st, sync);
    else if (sync && !s.incomplete) s.missingSince = undefined;
  }

  private afterFailure(origin: string, st: OriginState, error: unknown): void {
    const s = st.stream!;
    if (!s.incomplete) return;
    const now = this.host.clock.now();
    const live = this.host.isLive(origin);
    const code = error instanceof GrapevineError ? error.code : undefined;
    // An origin that no longer runs a bus, or has been gone longer than its log could cover,
    // can never resend: report what is missing and deliver what we hold.
    const hopeless = code === 'ERR_NO_HANDLER' || (!live && s.missingSince !== undefined && now - s.missingSince > this.host.opts.retentionWindow);
    if (hopeless) {
      this.skip(origin, st, s.knownHead);
      this.checkComplete(origin, st);
      return;
    }
    // Back off while it is unreachable; originBack() retries at once when it returns.
    const delay = Math.min(this.host.opts.retentionWindow, this.host.opts.recoveryDelay * 2 ** Math.min(st.failures, 6));
    this.schedule(origin, st, Math.max(delay, 1), true);
  }

  close(): void {
    this.closed = true;
    for (const st of this.origins.values()) st.timer?.cancel();
    this.origins.clear();
  }
}
