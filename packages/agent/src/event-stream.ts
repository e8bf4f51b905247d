/**
 * The clients of `GET /v1/events` (server-sent events of member changes). Two bounds keep a flood of
 * clients, or clients that stop reading, from growing the agent's memory without limit:
 * - at most `maxClients` streams are open at once; one more gets `503` with a JSON error body and
 *   is counted (`refused`);
 * - a client whose unsent output (`res.writableLength`: what Node holds because the socket would
 *   not take it) passes `maxBufferedBytes` is disconnected and counted (`dropped`). Node buffers
 *   every `res.write()` whatever the socket does, so without this a client that never reads makes
 *   the agent hold every event written to it for as long as the connection lives.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GrapevineError, type Cluster, type MemberEvent } from '@grapevine/core';
import { memberEventToJson } from './event-json.js';

export interface EventStreamOptions {
  /** Most event-stream clients at once; the next one gets 503. Default 256. */
  maxClients?: number;
  /** Unsent bytes one client may have queued before it is disconnected. Default 256 KiB. */
  maxBufferedBytes?: number;
  /** Comment line sent to idle event streams so dead clients are noticed (ms). Default 15000. */
  heartbeatMs?: number;
}

export const DEFAULT_MAX_EVENT_CLIENTS = 256;
export const DEFAULT_MAX_EVENT_BUFFER_BYTES = 256 * 1024;

export interface EventStreamStats {
  /** Clients connected now. */
  readonly open: number;
  /** Clients answered 503 because `maxClients` were connected. */
  readonly refused: number;
  /** Clients disconnected because their unsent output passed `maxBufferedBytes`. */
  readonly dropped: number;
}

/** Where events come from: the cluster once it runs (undefined while the agent starts). */
export interface EventSource {
  cluster(): Cluster | undefined;
  /** True once the cluster failed to start or closed: streams end at once. */
  finished(): boolean;
  /** Call `fn` when the cluster becomes available; returns a function that cancels it. */
  whenReady(fn: (c: Cluster) => void): () => void;
}

export class EventStreams {
  readonly maxClients: number;
  readonly maxBufferedBytes: number;
  private readonly heartbeatMs: number;
  private readonly clients = new Set<ServerResponse>();
  private refusedCount = 0;
  private droppedCount = 0;

  constructor(private readonly source: EventSource, opts: EventStreamOptions = {}) {
    this.maxClients = positiveInteger('maxEventClients', opts.maxClients ?? DEFAULT_MAX_EVENT_CLIENTS);
    this.maxBufferedBytes = positiveInteger('maxEventBufferBytes', opts.maxBufferedBytes ?? DEFAULT_MAX_EVENT_BUFFER_BYTES);
    this.heartbeatMs = opts.heartbeatMs ?? 15_000;
  }

  get stats(): EventStreamStats {
    return { open: this.clients.size, refused: this.refusedCount, dropped: this.droppedCount };
  }

  /** Serve one `GET /v1/events` request. */
  open(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= this.maxClients) {
      this.refusedCount++;
      const body = `${JSON.stringify({ error: 'too many event-stream clients', limit: this.maxClients })}\n`;
      res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Retry-After': '5', Connection: 'close' });
      res.end(body);
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    const current = this.source.cluster();
    if (req.method === 'HEAD' || this.source.finished() || current?.closed) {
      res.end();
      return;
    }
    this.clients.add(res);
    let cleaned = false;
    let off: (() => void) | undefined;
    const send = (text: string): void => {
      if (cleaned) return;
      res.write(text);
      if (res.writableLength > this.maxBufferedBytes) {
        this.droppedCount++;
        cleanup();
        res.destroy(); // frees what Node buffered for it; the client sees the connection close
      }
    };
    const subscribe = (c: Cluster): void => {
      const self = c.name;
      off = c.on('change', (ev: MemberEvent): void => {
        if (ev.member.name !== self) send(`data: ${JSON.stringify(memberEventToJson(ev))}\n\n`);
      });
    };
    const cancelWait = current !== undefined ? undefined : this.source.whenReady(subscribe);
    if (current !== undefined) subscribe(current);
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), this.heartbeatMs);
    heartbeat.unref();
    const cleanup = (): void => {
      if (cleaned) return;
      cleaned = true;
      off?.();
      cancelWait?.();
      clearInterval(heartbeat);
      this.clients.delete(res);
    };
    // res 'close' fires when the client goes away (req 'close' fires once the request was read).
    res.on('close', cleanup);
    res.on('error', cleanup);
    send(': grapevine events\n\n');
  }

  /** End every open stream (the server is closing). */
  endAll(): void {
    for (const res of [...this.clients]) res.end();
  }

  /** Prometheus text for the counters above (appended to /metrics). */
  prometheus(): string {
    const s = this.stats;
    return [
      '# HELP grapevine_http_event_clients Event-stream (GET /v1/events) clients connected now.',
      '# TYPE grapevine_http_event_clients gauge',
      `grapevine_http_event_clients ${s.open}`,
      '# HELP grapevine_http_event_clients_refused_total Event-stream clients answered 503 (maxEventClients connected).',
      '# TYPE grapevine_http_event_clients_refused_total counter',
      `grapevine_http_event_clients_refused_total ${s.refused}`,
      '# HELP grapevine_http_event_clients_dropped_total Event-stream clients disconnected for not reading (unsent output past maxEventBufferBytes).',
      '# TYPE grapevine_http_event_clients_dropped_total counter',
      `grapevine_http_event_clients_dropped_total ${s.dropped}`,
      '',
    ].join('\n');
  }
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new GrapevineError('ERR_INVALID_OPTION', `${name} must be a positive integer, got ${v}`);
  return v;
}
