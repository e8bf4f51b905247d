/**
 * `grapevine events --http HOST:PORT [--json] [--token-file PATH]`: follow an agent's member
 * events (GET /v1/events). When the connection drops it reconnects (1 s, doubling to 10 s) and
 * sends Last-Event-ID, so the agent replays what was missed; if the agent could not (the id was
 * too old, or the agent restarted) a line says so on stderr. Runs until interrupted; a 401 or
 * another refusal the agent will repeat ends it with status 1.
 */
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { parseHostPort } from '@grapevine/core';
import { errorText, headers, parseTarget, readSse, why, type AgentTarget } from './client-http.js';
import { parseArgsError } from './usage-error.js';

export interface EventsSettings {
  target: AgentTarget;
  json: boolean;
}

export function parseEventsArgs(argv: string[]): EventsSettings | undefined {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { http: { type: 'string' }, json: { type: 'boolean' }, 'token-file': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw parseArgsError('events', err);
  }
  if (values.help) return undefined;
  return { target: parseTarget('events', values.http, values['token-file']), json: values.json ?? false };
}

/** One line per event: the JSON as the agent sent it, or "TIME NAME STATE ADDR". */
export function formatEvent(data: string, json: boolean): string {
  if (json) return `${data}\n`;
  try {
    const e = JSON.parse(data) as Record<string, unknown>;
    const what = e.event === 'updated' ? `updated ${Object.entries((e.meta as Record<string, string>) ?? {}).map(([k, v]) => `${k}=${v}`).join(',')}` : String(e.state);
    return `${String(e.at ?? '')}  ${String(e.name)}  ${what}  ${String(e.addr)}\n`;
  } catch {
    return `${data}\n`;
  }
}

export async function runEvents(s: EventsSettings, signal?: AbortSignal): Promise<number> {
  const { host, port } = parseHostPort(s.target.http);
  let lastId: string | undefined;
  let backoff = 1000;
  for (;;) {
    if (signal?.aborted) return 0;
    const outcome = await new Promise<{ fatal?: string; connected: boolean }>((resolve) => {
      const req = request({ host, port, path: '/v1/events', headers: headers(s.target, { accept: 'text/event-stream', ...(lastId !== undefined ? { 'last-event-id': lastId } : {}) }), signal }, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.length < 64 && chunks.push(d));
          res.on('end', () => {
            const text = errorText({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
            resolve(res.statusCode === 503 ? { connected: false } : { fatal: text, connected: false });
          });
          res.on('error', () => resolve({ connected: false }));
          return;
        }
        backoff = 1000;
        void readSse(res, (m) => {
          if (m.id !== undefined) lastId = m.id;
          if (m.event === 'reset') {
            process.stderr.write(`grapevine events: the agent could not replay every missed event (${m.data})\n`);
            return;
          }
          process.stdout.write(formatEvent(m.data, s.json));
        }).then(() => resolve({ connected: true }));
      });
      req.on('error', (err) => {
        if (!signal?.aborted) process.stderr.write(`grapevine events: ${s.target.http}: ${why(err)}; retrying\n`);
        resolve({ connected: false });
      });
      req.end();
    });
    if (outcome.fatal !== undefined) {
      process.stderr.write(`grapevine events: the agent answered ${outcome.fatal}\n`);
      return 1;
    }
    if (signal?.aborted) return 0;
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Math.min(10_000, backoff * 2);
  }
}
