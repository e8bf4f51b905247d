/**
 * GET /v1/events: server-sent events of member changes, resumable. Every event gets an id
 * `<epoch>-<seq>` (epoch: random per agent process, seq: 1, 2, ...) and the last `replayEvents`
 * are kept in a ring. A client that reconnects with `Last-Event-ID` gets what it missed first:
 * - the id is in the ring (or the newest): the events after it, then live ones;
 * - the id is older than the ring, from another run of the agent (another epoch) or from the
 *   future: a first `event: reset` whose data says why (`too-old`, `restarted`, `unknown-id`) and
 *   how many events the ring holds, then the whole ring, then live ones.
 * A malformed Last-Event-ID is a 400. Without one, only live events are sent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { GrapevineError, type Cluster, type MemberEvent } from '@grapevine/core';
import { memberEventToJson } from './event-json.js';
import { HttpError, sendError } from './http-common.js';
import type { SseClient, SseClients } from './sse-clients.js';

/** Member events kept for Last-Event-ID replay (HttpApiOptions.replayEvents). */
export const DEFAULT_REPLAY_EVENTS = 1024;

/** Where events come from: the cluster once it runs (undefined while the agent starts). */
export interface EventSource {
  cluster(): Cluster | undefined;
  /** True once the cluster failed to start or closed: streams end at once. */
  finished(): boolean;
  /** Call `fn` when the cluster becomes available. */
  whenReady(fn: (c: Cluster) => void): void;
}

interface Stored {
  seq: number;
  text: string;
}

export class EventStreams {
  readonly epoch = randomBytes(4).toString('hex');
  readonly replayEvents: number;
  private readonly ring: Stored[] = [];
  private seq = 0;
  private readonly live = new Set<SseClient>();

  constructor(private readonly source: EventSource, private readonly clients: SseClients, replayEvents = DEFAULT_REPLAY_EVENTS) {
    if (!Number.isSafeInteger(replayEvents) || replayEvents < 1) throw new GrapevineError('ERR_INVALID_OPTION', `replayEvents must be a positive integer, got ${replayEvents}`);
    this.replayEvents = replayEvents;
    const current = source.cluster();
    if (current !== undefined) this.subscribe(current);
    else source.whenReady((c) => this.subscribe(c));
  }

  /** The id of the newest event ("" before the first). */
  get lastId(): string {
    return this.seq === 0 ? '' : `${this.epoch}-${this.seq}`;
  }

  private subscribe(c: Cluster): void {
    const self = c.name;
    c.on('change', (ev: MemberEvent): void => {
      if (ev.member.name === self) return;
      const seq = ++this.seq;
      const text = `id: ${this.epoch}-${seq}\ndata: ${JSON.stringify(memberEventToJson(ev))}\n\n`;
      this.ring.push({ seq, text });
      if (this.ring.length > this.replayEvents) this.ring.shift();
      for (const client of this.live) client.send(text);
    });
  }

  /** Serve one `GET /v1/events` request. */
  open(req: IncomingMessage, res: ServerResponse): void {
    const header = req.headers['last-event-id'];
    let after: { epoch: string; seq: number } | undefined;
    if (typeof header === 'string' && header !== '') {
      const m = /^([0-9a-f]{8})-(0|[1-9][0-9]{0,15})$/.exec(header.trim());
      if (!m) return sendError(res, new HttpError(400, 'ERR_BAD_LAST_EVENT_ID', 'Last-Event-ID must be an id this API sent (EPOCH-SEQ)'));
      after = { epoch: m[1]!, seq: Number(m[2]) };
    }
    if (!this.clients.admit(res)) return;
    const client = this.clients.open(res, () => this.live.delete(client));
    if (req.method === 'HEAD' || this.source.finished() || this.source.cluster()?.closed) {
      res.end();
      return;
    }
    client.send(': grapevine events\n\n');
    if (after !== undefined) {
      const oldest = this.ring[0]?.seq ?? this.seq + 1;
      let reason: string | undefined;
      if (after.epoch !== this.epoch) reason = 'restarted';
      else if (after.seq > this.seq) reason = 'unknown-id';
      else if (after.seq < oldest - 1) reason = 'too-old';
      if (reason !== undefined) {
        client.send(`event: reset\ndata: ${JSON.stringify({ event: 'reset', reason, replayed: this.ring.length, limit: this.replayEvents })}\n\n`);
        for (const e of this.ring) client.send(e.text);
      } else {
        for (const e of this.ring) if (e.seq > after.seq) client.send(e.text);
      }
    }
    if (!client.closed) this.live.add(client);
  }
}
