/**
 * The origin's side of recovery: answers a receiver's fetch from this node's recent log — the
 * events of a hole (up to the requested `to`), or, on first contact, where the receiver should
 * start (rejoin-marks.ts) and what it is owed from there. One reply is one page: `fetchEvents`
 * events at most and about 512 KiB.
 */
import { utf8Length } from '@grapevine/core';
import type { ResolvedMeshOptions } from './options.js';
import type { OriginLog } from './origin-log.js';
import type { RejoinMarks } from './rejoin-marks.js';
import type { FetchReply, FetchReq, WireEvent } from './wire.js';

/** Bytes of events one reply carries at most (beyond its first event). */
const PAGE_BYTES = 512 * 1024;

export class FetchServer {
  constructor(
    private readonly opts: ResolvedMeshOptions,
    private readonly log: OriginLog,
    private readonly marks: RejoinMarks,
    private readonly epoch: number,
    private readonly measure: (v: unknown) => number,
  ) {}

  answer(from: string, req: FetchReq): FetchReply {
    const now = this.opts.clock.now();
    const log = this.log;
    log.expire(now);
    const base = { epoch: this.epoch, head: log.head, oldest: log.oldest };
    if (req.fresh) {
      const owed = this.marks.owed(from, req.instance, now, req.uptime, this.opts.fetchTimeout);
      // `from` > 0: the requester already hears this origin's batches (from is the first number
      // it heard), so it only needs where to start; a hole before `from` is fetched like any
      // other, if gossip has not filled it within its recovery delay. 0: a page from `owed`.
      const events = req.from > 0 ? [] : this.page(owed, 0);
      return { ...base, owed, first: Math.max(owed, log.oldest), events };
    }
    if (req.epoch !== this.epoch) return { ...base, owed: null, first: 0, events: [] };
    return { ...base, owed: null, first: Math.max(req.from, log.oldest), events: this.page(req.from, req.to) };
  }

  /** Logged events from `from` up to `to` (0: no bound), one page at most. */
  private page(from: number, to: number): WireEvent[] {
    const start = Math.max(from, this.log.oldest);
    const limit = to >= start ? Math.min(this.opts.fetchEvents, to - start + 1) : this.opts.fetchEvents;
    const events = this.log.range(from, limit);
    let bytes = 0;
    const out: WireEvent[] = [];
    for (const e of events) {
      bytes += utf8Length(e.key) + 32 + (e.hasValue ? this.measure(e.value) : 0);
      if (out.length > 0 && bytes > PAGE_BYTES) break;
      out.push(e.hasValue ? { key: e.key, version: e.version, ack: e.ack, hasValue: true, value: e.value } : { key: e.key, version: e.version, ack: e.ack, hasValue: false });
    }
    return out;
  }
}
