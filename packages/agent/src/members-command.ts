/**
 * `grapevine members --http HOST:PORT [--json] [--state S[,S]] [--name PREFIX] [--meta K=V]...
 * [--token-file PATH]`: ask an agent's HTTP API who it knows (the filters are the API's).
 */
import { parseArgs } from 'node:util';
import type { MemberJson } from './event-json.js';
import { call, errorText, parseTarget, why, type AgentTarget } from './client-http.js';
import { UsageError, parseArgsError } from './usage-error.js';

export interface MembersSettings {
  target: AgentTarget;
  json: boolean;
  /** The query string of GET /v1/members ("" for none). */
  query: string;
}

const STATES = ['alive', 'suspect', 'dead', 'left'];

export function parseMembersArgs(argv: string[]): MembersSettings | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        http: { type: 'string' }, json: { type: 'boolean' }, 'token-file': { type: 'string' },
        state: { type: 'string' }, name: { type: 'string' }, meta: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw parseArgsError('members', err);
  }
  if (values.help) return undefined;
  const q = new URLSearchParams();
  if (values.state !== undefined) {
    const bad = values.state.split(',').find((x) => !STATES.includes(x));
    if (bad !== undefined) throw new UsageError(`grapevine members: --state takes alive, suspect, dead or left (comma-separated), got "${bad}"`);
    q.set('state', values.state);
  }
  if (values.name !== undefined) q.set('name', values.name);
  for (const kv of values.meta ?? []) {
    if (kv.indexOf('=') <= 0) throw new UsageError(`grapevine members: --meta takes KEY=VALUE, got "${kv}"`);
    q.append('meta', kv);
  }
  return { target: parseTarget('members', values.http, values['token-file']), json: values.json ?? false, query: q.toString() };
}

/** Fetch and print; returns the exit status (1 when the agent cannot be reached or answers badly). */
export async function runMembers(s: MembersSettings): Promise<number> {
  const path = `/v1/members${s.query ? `?${s.query}` : ''}`;
  let members: MemberJson[];
  try {
    const a = await call(s.target, 'GET', path, undefined, 5000);
    if (a.status !== 200) {
      process.stderr.write(`grapevine members: http://${s.target.http}${path} answered ${errorText(a)}\n`);
      return 1;
    }
    const value: unknown = JSON.parse(a.body.toString('utf8'));
    if (!Array.isArray(value)) throw new Error('the answer is not a JSON array');
    members = value as MemberJson[];
  } catch (err) {
    process.stderr.write(`grapevine members: cannot get http://${s.target.http}${path}: ${why(err)}\n`);
    return 1;
  }
  process.stdout.write(s.json ? `${JSON.stringify(members, null, 2)}\n` : formatMemberTable(members));
  return 0;
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
