/**
 * Routes about membership: GET /v1/members (filters), GET /v1/self, PUT|DELETE /v1/meta/{key}.
 *   /v1/members?state=alive,suspect   one or more states
 *              &name=web-             name prefix
 *              &meta=zone=eu&meta=... metadata KEY=VALUE, all must match
 * PUT /v1/meta/{key} takes the value as the raw body (UTF-8 text); DELETE removes the key. The
 * change gossips like any metadata update (the other agents print an "updated" event).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GrapevineError, type Cluster, type Member, type MemberState } from '@grapevine/core';
import { memberToJson } from './event-json.js';
import { HttpError, methodNotAllowed, readBody, sendError, sendJson } from './http-common.js';

const STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

export interface RouteContext {
  cluster: Cluster;
  maxBodyBytes: number;
}

export function membersFilter(url: URL): (m: Member) => boolean {
  const checks: ((m: Member) => boolean)[] = [];
  const state = url.searchParams.get('state');
  if (state !== null && state !== '') {
    const wanted = state.split(',');
    const bad = wanted.find((s) => !(STATES as readonly string[]).includes(s));
    if (bad !== undefined) throw new HttpError(400, 'ERR_BAD_FILTER', `unknown state "${bad}" (alive, suspect, dead, left)`);
    checks.push((m) => wanted.includes(m.state));
  }
  const prefix = url.searchParams.get('name');
  if (prefix !== null && prefix !== '') checks.push((m) => m.name.startsWith(prefix));
  for (const kv of url.searchParams.getAll('meta')) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new HttpError(400, 'ERR_BAD_FILTER', `meta filter takes KEY=VALUE, got "${kv}"`);
    const key = kv.slice(0, eq);
    const value = kv.slice(eq + 1);
    checks.push((m) => Object.hasOwn(m.meta, key) && m.meta[key] === value);
  }
  for (const k of url.searchParams.keys()) {
    if (k !== 'state' && k !== 'name' && k !== 'meta') throw new HttpError(400, 'ERR_BAD_FILTER', `unknown filter "${k}" (state, name, meta)`);
  }
  return (m) => checks.every((c) => c(m));
}

/** Handles the routes above; false for any other path. */
export function clusterRoutes(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const path = url.pathname;
  const { cluster } = ctx;
  if (path === '/v1/members') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, req.method, 'GET, HEAD'), true;
    const keep = membersFilter(url);
    const members = cluster.members().filter(keep).map(memberToJson);
    members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    sendJson(res, 200, members);
    return true;
  }
  if (path === '/v1/self') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, req.method, 'GET, HEAD'), true;
    const counts = cluster.counts();
    sendJson(res, 200, { ...memberToJson(cluster.localNode), awareness: cluster.node.awareness.health, members: counts });
    return true;
  }
  if (path.startsWith('/v1/meta/')) {
    let key: string;
    try {
      key = decodeURIComponent(path.slice('/v1/meta/'.length));
    } catch {
      throw new HttpError(400, 'ERR_BAD_KEY', 'metadata key is not valid percent-encoding');
    }
    if (key === '') throw new HttpError(400, 'ERR_BAD_KEY', 'metadata key must not be empty');
    if (req.method === 'PUT') {
      readBody(req, ctx.maxBodyBytes).then(
        (body) => {
          const value = new TextDecoder('utf-8', { fatal: true }).decode(body);
          applyMeta(cluster, { [key]: value });
          sendJson(res, 200, { key, value });
        },
      ).catch((err: unknown) => sendError(res, asHttpError(err)));
      return true;
    }
    if (req.method === 'DELETE') {
      const had = Object.hasOwn(cluster.localNode.meta, key);
      applyMeta(cluster, { [key]: null });
      sendJson(res, had ? 200 : 404, had ? { key, deleted: true } : { error: 'no such metadata key', code: 'ERR_NOT_FOUND', key });
      return true;
    }
    methodNotAllowed(res, req.method, 'PUT, DELETE');
    return true;
  }
  return false;
}

function applyMeta(cluster: Cluster, patch: Record<string, string | null>): void {
  try {
    cluster.updateMeta(patch);
  } catch (err) {
    if (err instanceof GrapevineError) throw new HttpError(err.code === 'ERR_TOO_LARGE' ? 413 : 400, err.code, err.message);
    throw err;
  }
}

/** Known errors keep their status; a GrapevineError is the caller's fault (400) unless it says otherwise. */
export function asHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof TypeError && /decode|encoded/i.test(err.message)) return new HttpError(400, 'ERR_BAD_BODY', 'request body is not valid UTF-8');
  if (err instanceof GrapevineError) {
    const status = err.code === 'ERR_TOO_LARGE' ? 413 : err.code === 'ERR_UNREACHABLE' ? 404 : err.code === 'ERR_CLOSED' ? 503 : err.code === 'ERR_TIMEOUT' ? 504 : 400;
    return new HttpError(status, err.code, err.message);
  }
  return new HttpError(500, 'ERR_INTERNAL', 'internal error');
}
