/**
 * Routes that let a service in any language send and receive Grapevine user messages:
 *   POST /v1/broadcast       {"type": N, "json": VALUE} or {"type": N, "base64": "..."}  → gossip to all
 *   POST /v1/send/{node}     the same body, plus optional "reliable": true             → one member
 *   GET  /v1/messages?type=N[,M...]   server-sent events of received messages of those types:
 *        data: {"type":N,"from":NAME,"broadcast":BOOL,"json":VALUE} (or "base64" for bytes)
 * N is a user type, FIRST_USER_TYPE (128) .. 65535. A JSON payload travels as the decoded value;
 * a base64 one as bytes (a Uint8Array to JS handlers), and is shown as base64 when received.
 * Handlers are registered lazily: the first subscriber to a type registers it on the cluster and
 * it stays registered while the agent runs (at most `maxMessageTypes` types; a type another
 * plugin of this agent handles, kv or mesh, is refused with 409). A message that arrives while no
 * client listens to its type is counted (grapevine_http_messages_unheard_total) and dropped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FIRST_USER_TYPE, GrapevineError, MAX_USER_TYPE, type Cluster, type MessageInfo } from '@grapevine/core';
import { HttpError, methodNotAllowed, readJsonObject, sendError, sendJson } from './http-common.js';
import { asHttpError } from './http-routes-cluster.js';
import type { SseClient, SseClients } from './sse-clients.js';

/** Message types GET /v1/messages may register on the cluster (HttpApiOptions.maxMessageTypes). */
export const DEFAULT_MAX_MESSAGE_TYPES = 64;

export interface MessagePayload {
  type: number;
  payload: unknown;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkType(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new HttpError(400, 'ERR_BAD_TYPE', `"type" must be an integer ${FIRST_USER_TYPE}..${MAX_USER_TYPE}`);
  if (v < FIRST_USER_TYPE || v > MAX_USER_TYPE) throw new HttpError(400, 'ERR_RESERVED_TYPE', `message type ${v} is reserved or out of range: use ${FIRST_USER_TYPE}..${MAX_USER_TYPE}`);
  return v;
}

/** A {type, json} or {type, base64} body. */
export function parseMessageBody(body: Record<string, unknown>): MessagePayload {
  const type = checkType(body.type);
  const hasJson = Object.hasOwn(body, 'json');
  const hasB64 = Object.hasOwn(body, 'base64');
  if (hasJson === hasB64) throw new HttpError(400, 'ERR_BAD_PAYLOAD', 'the body needs exactly one of "json" and "base64"');
  if (hasJson) return { type, payload: body.json };
  const b64 = body.base64;
  if (typeof b64 !== 'string' || !BASE64.test(b64)) throw new HttpError(400, 'ERR_BAD_PAYLOAD', '"base64" must be a base64 string (A-Z a-z 0-9 + /, padded)');
  return { type, payload: new Uint8Array(Buffer.from(b64, 'base64')) };
}

export class MessageStreams {
  /** Messages received of a registered type while no client listened. */
  unheard = 0;
  /** Messages written to subscribers. */
  delivered = 0;
  private readonly byType = new Map<number, Set<SseClient>>();

  constructor(private readonly clients: SseClients, readonly maxMessageTypes = DEFAULT_MAX_MESSAGE_TYPES) {
    if (!Number.isSafeInteger(maxMessageTypes) || maxMessageTypes < 1) throw new GrapevineError('ERR_INVALID_OPTION', `maxMessageTypes must be a positive integer, got ${maxMessageTypes}`);
  }

  /** Serve GET /v1/messages?type=... */
  open(cluster: Cluster, req: IncomingMessage, res: ServerResponse, url: URL): void {
    const param = url.searchParams.get('type') ?? '';
    if (param === '') throw new HttpError(400, 'ERR_BAD_TYPE', 'give the message types to receive: /v1/messages?type=N[,M...]');
    const types = [...new Set(param.split(',').map((t) => checkType(/^[0-9]{1,6}$/.test(t) ? Number(t) : NaN)))];
    const fresh = types.filter((t) => !this.byType.has(t));
    if (this.byType.size + fresh.length > this.maxMessageTypes) {
      throw new HttpError(409, 'ERR_LIMIT', `at most ${this.maxMessageTypes} message types can be received over HTTP`, { limit: this.maxMessageTypes });
    }
    for (const t of fresh) {
      try {
        cluster.handle(t, (payload, info) => this.deliver(t, payload, info));
      } catch (err) {
        if (err instanceof GrapevineError && err.code === 'ERR_DUPLICATE_HANDLER') throw new HttpError(409, 'ERR_TYPE_TAKEN', `message type ${t} is handled by another part of this agent`);
        throw err;
      }
      this.byType.set(t, new Set());
    }
    if (!this.clients.admit(res)) return;
    const client = this.clients.open(res, () => {
      for (const t of types) this.byType.get(t)?.delete(client);
    });
    if (req.method === 'HEAD') return void res.end();
    for (const t of types) this.byType.get(t)!.add(client);
    client.send(`: grapevine messages ${types.join(',')}\n\n`);
  }

  private deliver(type: number, payload: unknown, info: MessageInfo): void {
    const listeners = this.byType.get(type);
    if (!listeners || listeners.size === 0) {
      this.unheard++;
      return;
    }
    const body = payload instanceof Uint8Array ? { base64: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64') } : { json: payload };
    let text: string;
    try {
      text = `data: ${JSON.stringify({ type, from: info.from, broadcast: info.broadcast, ...body })}\n\n`;
    } catch {
      return; // not representable as JSON (a JS sender's BigInt, say): nothing sensible to show
    }
    for (const c of listeners) {
      c.send(text);
      this.delivered++;
    }
  }
}

export interface MessageRouteContext {
  cluster: Cluster;
  maxBodyBytes: number;
  messages: MessageStreams;
}

/** Handles the routes above; false for any other path. */
export function messageRoutes(ctx: MessageRouteContext, req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const path = url.pathname;
  if (path === '/v1/messages') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, req.method, 'GET, HEAD'), true;
    ctx.messages.open(ctx.cluster, req, res, url);
    return true;
  }
  const isBroadcast = path === '/v1/broadcast';
  if (!isBroadcast && !path.startsWith('/v1/send/')) return false;
  if (req.method !== 'POST') return methodNotAllowed(res, req.method, 'POST'), true;
  let node = '';
  if (!isBroadcast) {
    try {
      node = decodeURIComponent(path.slice('/v1/send/'.length));
    } catch {
      throw new HttpError(400, 'ERR_BAD_NODE', 'node name is not valid percent-encoding');
    }
    if (node === '') throw new HttpError(400, 'ERR_BAD_NODE', 'POST /v1/send/{node} needs a node name');
  }
  void (async () => {
    const body = await readJsonObject(req, ctx.maxBodyBytes);
    const msg = parseMessageBody(body);
    if (isBroadcast) {
      const id = ctx.cluster.broadcast(msg.type, msg.payload);
      return sendJson(res, 202, { id, type: msg.type });
    }
    if (body.reliable !== undefined && typeof body.reliable !== 'boolean') throw new HttpError(400, 'ERR_BAD_PAYLOAD', '"reliable" must be a boolean');
    if (ctx.cluster.member(node) === undefined) throw new HttpError(404, 'ERR_UNKNOWN_NODE', `no member named "${node}"`, { node });
    await ctx.cluster.sendTo(node, msg.type, msg.payload, body.reliable === true ? { reliable: true } : {});
    sendJson(res, 202, { node, type: msg.type });
  })().catch((err: unknown) => sendError(res, asHttpError(err)));
  return true;
}
