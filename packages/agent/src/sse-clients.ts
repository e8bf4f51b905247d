/**
 * The server-sent-event clients of the agent (GET /v1/events and GET /v1/messages together). Two
 * bounds keep a flood of clients, or clients that stop reading, from growing the agent's memory:
 * - at most `maxClients` streams are open at once; one more gets `503` with a JSON error body and
 *   is counted (`refused`);
 * - a client whose unsent output (`res.writableLength`: what Node holds because the socket would
 *   not take it) passes `maxBufferedBytes` is disconnected and counted (`dropped`). Node buffers
 *   every `res.write()` whatever the socket does, so without this a client that never reads makes
 *   the agent hold every event written to it for as long as the connection lives.
 */
import type { ServerResponse } from 'node:http';
import { GrapevineError } from '@grapevine/core';
import { sendJson } from './http-common.js';

export interface SseOptions {
  /** Most event-stream clients at once; the next one gets 503. Default 256. */
  maxClients?: number;
  /** Unsent bytes one client may have queued before it is disconnected. Default 256 KiB. */
  maxBufferedBytes?: number;
  /** Comment line sent to idle streams so dead clients are noticed (ms). Default 15000. */
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

/** One open stream: write events to it; `onClose` runs once when it ends for any reason. */
export interface SseClient {
  send(text: string): void;
  readonly closed: boolean;
}

export class SseClients {
  readonly maxClients: number;
  readonly maxBufferedBytes: number;
  private readonly heartbeatMs: number;
  private readonly clients = new Set<ServerResponse>();
  private refusedCount = 0;
  private droppedCount = 0;

  constructor(opts: SseOptions = {}) {
    this.maxClients = positiveInteger('maxEventClients', opts.maxClients ?? DEFAULT_MAX_EVENT_CLIENTS);
    this.maxBufferedBytes = positiveInteger('maxEventBufferBytes', opts.maxBufferedBytes ?? DEFAULT_MAX_EVENT_BUFFER_BYTES);
    this.heartbeatMs = opts.heartbeatMs ?? 15_000;
  }

  get stats(): EventStreamStats {
    return { open: this.clients.size, refused: this.refusedCount, dropped: this.droppedCount };
  }

  /** False (and the 503 already sent) when the cap is reached. */
  admit(res: ServerResponse): boolean {
    if (this.clients.size < this.maxClients) return true;
    this.refusedCount++;
    sendJson(res, 503, { error: 'too many event-stream clients', code: 'ERR_TOO_MANY_STREAMS', limit: this.maxClients }, { 'Retry-After': '5', Connection: 'close' });
    return false;
  }

  /** Start the stream (200 and SSE headers); `onClose` runs once when it ends. */
  open(res: ServerResponse, onClose: () => void): SseClient {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    this.clients.add(res);
    let closed = false;
    const cleanup = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      this.clients.delete(res);
      onClose();
    };
    const client: SseClient = {
      get closed() {
        return closed;
      },
      send: (text: string): void => {
        if (closed) return;
        res.write(text);
        if (res.writableLength > this.maxBufferedBytes) {
          this.droppedCount++;
          cleanup();
          res.destroy(); // frees what Node buffered for it; the client sees the connection close
        }
      },
    };
    const heartbeat = setInterval(() => client.send(': keep-alive\n\n'), this.heartbeatMs);
    heartbeat.unref();
    // res 'close' fires when the client goes away (req 'close' fires once the request was read).
    res.on('close', cleanup);
    res.on('error', cleanup);
    return client;
  }

  /** End every open stream (the server is closing). */
  endAll(): void {
    for (const res of [...this.clients]) res.end();
  }
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new GrapevineError('ERR_INVALID_OPTION', `${name} must be a positive integer, got ${v}`);
  return v;
}
