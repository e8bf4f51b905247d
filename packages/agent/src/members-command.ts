/** `grapevine members --http HOST:PORT [--json]`: ask an agent's HTTP API who it knows. */
import { get } from 'node:http';
import { parseArgs } from 'node:util';
import { formatHostPort, parseHostPort } from '@grapevine/core';
import type { MemberJson } from './event-json.js';
import { UsageError, oneLine, parseArgsError } from './usage-error.js';

export interface MembersSettings {
  http: string;
  json: boolean;
}

export function parseMembersArgs(argv: string[]): MembersSettings | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { http: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw parseArgsError('members', err);
  }
  if (values.help) return undefined;
  if (values.http === undefined) throw new UsageError('grapevine members: --http HOST:PORT is required (the agent\'s --http address)');
  let http: string;
  try {
    http = formatHostPort(parseHostPort(values.http));
  } catch (err) {
    throw new UsageError(`grapevine members: --http: ${(err as Error).message}`);
  }
  return { http, json: values.json ?? false };
}

/** Fetch and print; returns the exit status (1 when the agent cannot be reached or answers badly). */
export async function runMembers(s: MembersSettings): Promise<number> {
  const url = `http://${s.http}/v1/members`;
  let members: MemberJson[];
  try {
    const { status, body } = await getText(url, 5000);
    if (status !== 200) {
      process.stderr.write(`grapevine members: ${url} answered ${status}\n`);
      return 1;
    }
    const value: unknown = JSON.parse(body);
    if (!Array.isArray(value)) throw new Error('the answer is not a JSON array');
    members = value as MemberJson[];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
    process.stderr.write(`grapevine members: cannot get ${url}: ${oneLine(why)}\n`);
    return 1;
  }
  process.stdout.write(s.json ? `${JSON.stringify(members, null, 2)}\n` : formatMemberTable(members));
  return 0;
}

/** GET with node:http (fetch refuses some ports, 6000 say, that an agent may well use). */
function getText(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.length > 64 * 1024 * 1024) req.destroy(new Error('answer too large'));
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** A plain-text table: NAME ADDRESS STATE INCARNATION META. */
export function formatMemberTable(members: readonly MemberJson[]): string {
  const rows = [
    ['NAME', 'ADDRESS', 'STATE', 'INCARNATION', 'META'],
    ...members.map((m) => [
      String(m.name),
      String(m.addr),
      String(m.state),
      String(m.incarnation),
      Object.entries(m.meta ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}
