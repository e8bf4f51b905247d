/**
 * What every route of the agent's HTTP API shares: JSON answers and errors (`{error, code}`, the
 * code stable for scripts: docs in the agent README), bounded request bodies, the bearer token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body a route reads unless told otherwise (HttpApiOptions.maxBodyBytes). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** A request the API refuses: the status and stable code it answers with. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

export function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': bytes.byteLength, 'Cache-Control': 'no-store', ...headers });
  res.end(bytes);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`, headers);
}

export function sendError(res: ServerResponse, err: HttpError, headers: Record<string, string> = {}): void {
  sendJson(res, err.status, { error: err.message, code: err.code, ...err.extra }, headers);
}

export function methodNotAllowed(res: ServerResponse, method: string | undefined, allow: string): void {
  sendError(res, new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', 'method not allowed', { method: method ?? '' }), { Allow: allow });
}

/**
 * The request body, at most `maxBytes`: a larger Content-Length is refused before reading, and a
 * body that grows past the bound while streaming (chunked) is cut off. Either is a 413.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    const tooLarge = (): HttpError => new HttpError(413, 'ERR_BODY_TOO_LARGE', `request body larger than ${maxBytes} bytes`, { limit: maxBytes });
    if (Number.isFinite(declared) && declared > maxBytes) {
      req.resume(); // drain what the client already sent so it reads the answer
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > maxBytes) {
        done = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
      done = true;
    });
    req.on('error', (err) => {
      if (!done) reject(new HttpError(400, 'ERR_BAD_REQUEST', `request body: ${err.message}`));
      done = true;
    });
  });
}

/** The body parsed as a JSON object (not an array, not a scalar); anything else is a 400. */
export async function readJsonObject(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const body = await readBody(req, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'ERR_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'ERR_BAD_JSON', 'request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** The cookie a browser holds the token in after opening `/?token=...` (see tokenFromCookie). */
export const TOKEN_COOKIE = 'grapevine_token';

/**
 * Checks a presented token against the configured one. Both sides are hashed to SHA-256 first so
 * timingSafeEqual always compares equal lengths and the time taken says nothing about the token's
 * length or content.
 */
export function tokenMatcher(token: string): (presented: string | undefined) => boolean {
  const want = createHash('sha256').update(token, 'utf8').digest();
  return (presented) => {
    if (presented === undefined || presented.length === 0) return false;
    return timingSafeEqual(createHash('sha256').update(presented, 'utf8').digest(), want);
  };
}

/**
 * Checks `Authorization: Bearer <token>`; for GET and HEAD also the TOKEN_COOKIE, which is how the
 * dashboard's page, script and event stream authenticate (a browser's EventSource cannot send a
 * header). The cookie never authorizes a method that changes anything, so a forged cross-site
 * request cannot use it (it is also SameSite=Strict).
 */
export function bearerCheck(token: string): (req: IncomingMessage) => boolean {
  const matches = tokenMatcher(token);
  return (req) => {
    const header = req.headers.authorization;
    if (typeof header === 'string') {
      const m = /^Bearer[ ]+(.+)$/i.exec(header.trim());
      if (m && matches(m[1])) return true;
    }
    return (req.method === 'GET' || req.method === 'HEAD') && matches(tokenFromCookie(req));
  };
}

/** The TOKEN_COOKIE's value, if the request carries one. */
export function tokenFromCookie(req: IncomingMessage): string | undefined {
  const raw = req.headers.cookie;
  if (typeof raw !== 'string' || raw.length > 8192) return undefined;
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== TOKEN_COOKIE) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}
