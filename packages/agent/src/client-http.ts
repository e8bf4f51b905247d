/**
 * What the client commands (members, events, broadcast, kv) share: the --http / --token-file
 * flags, a bounded request with node:http (fetch refuses some ports, 6000 say, that an agent may
 * well use), and a server-sent-event reader.
 */
import { request, type IncomingMessage } from 'node:http';
import { formatHostPort, parseHostPort } from '@grapevine/core';
import { readTokenFile } from './token-file.js';
import { UsageError, oneLine } from './usage-error.js';

/** Largest answer a client command reads. */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export interface AgentTarget {
  /** host:port of the agent's --http. */
  http: string;
  token?: string;
}

/** --http HOST:PORT (required) and --token-file PATH (optional), or a one-line UsageError. */
export function parseTarget(command: string, http: string | undefined, tokenFile: string | undefined): AgentTarget {
  if (http === undefined) throw new UsageError(`grapevine ${command}: --http HOST:PORT is required (the agent's --http address)`);
  let addr: string;
  try {
    addr = formatHostPort(parseHostPort(http));
  } catch (err) {
    throw new UsageError(`grapevine ${command}: --http: ${oneLine((err as Error).message)}`);
  }
  const token = tokenFile === undefined ? undefined : readTokenFile(command, '--token-file', tokenFile);
  return { http: addr, ...(token !== undefined ? { token } : {}) };
}

export function headers(t: AgentTarget, extra: Record<string, string> = {}): Record<string, string> {
  return { ...(t.token !== undefined ? { authorization: `Bearer ${t.token}` } : {}), ...extra };
}

export interface Answer {
  status: number;
  body: Buffer;
}

export function call(t: AgentTarget, method: string, path: string, body?: Buffer | string, timeoutMs = 10_000): Promise<Answer> {
  const { host, port } = parseHostPort(t.http);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, timeout: timeoutMs, headers: headers(t, body !== undefined ? { 'content-type': 'application/json' } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.byteLength;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error('answer too large'));
        else chunks.push(d);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** "cannot reach": the errno code when there is one (ECONNREFUSED), else the message. */
export function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return oneLine(typeof code === 'string' ? code : err instanceof Error ? err.message : String(err));
}

/** The agent's JSON error text, or the status. */
export function errorText(a: Answer): string {
  try {
    const v = JSON.parse(a.body.toString('utf8')) as { error?: unknown; code?: unknown };
    if (typeof v.error === 'string') return `${a.status} ${typeof v.code === 'string' ? `${v.code}: ` : ''}${oneLine(v.error)}`;
  } catch {
    // not JSON
  }
  return String(a.status);
}

export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

/** Parse an SSE response into messages; returns when the stream ends. A line longer than 1 MiB ends it. */
export function readSse(res: IncomingMessage, onMessage: (m: SseMessage) => void): Promise<void> {
  return new Promise((resolve) => {
    let buf = '';
    let cur: { id?: string; event?: string; data: string[] } = { data: [] };
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (cur.data.length > 0) onMessage({ ...(cur.id !== undefined ? { id: cur.id } : {}), ...(cur.event !== undefined ? { event: cur.event } : {}), data: cur.data.join('\n') });
          cur = { data: [] };
        } else if (!line.startsWith(':')) {
          const c = line.indexOf(':');
          const field = c < 0 ? line : line.slice(0, c);
          const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
          if (field === 'data') cur.data.push(value);
          else if (field === 'id') cur.id = value;
          else if (field === 'event') cur.event = value;
        }
      }
      if (buf.length > 1024 * 1024) res.destroy();
    });
    res.on('end', resolve);
    res.on('close', resolve);
    res.on('error', resolve);
  });
}
