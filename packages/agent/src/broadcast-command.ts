/**
 * `grapevine broadcast --http HOST:PORT [--token-file PATH] TYPE JSON`: gossip one user message
 * through an agent (POST /v1/broadcast). TYPE is 128..65535; JSON is the payload as JSON text
 * (`'{"a":1}'`, `'"text"'`, `42`). Prints the message id.
 */
import { parseArgs } from 'node:util';
import { FIRST_USER_TYPE, MAX_USER_TYPE } from '@grapevine/core';
import { call, errorText, parseTarget, why, type AgentTarget } from './client-http.js';
import { UsageError, oneLine, parseArgsError } from './usage-error.js';

export interface BroadcastSettings {
  target: AgentTarget;
  type: number;
  json: unknown;
}

export function parseBroadcastArgs(argv: string[]): BroadcastSettings | undefined {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: { http: { type: 'string' }, 'token-file': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true }));
  } catch (err) {
    throw parseArgsError('broadcast', err);
  }
  if (values.help) return undefined;
  if (positionals.length !== 2) throw new UsageError('grapevine broadcast: takes TYPE and JSON (grapevine broadcast --http HOST:PORT TYPE JSON)');
  const [typeText, jsonText] = positionals as [string, string];
  const type = /^[0-9]{1,5}$/.test(typeText) ? Number(typeText) : NaN;
  if (!(type >= FIRST_USER_TYPE && type <= MAX_USER_TYPE)) throw new UsageError(`grapevine broadcast: TYPE must be a user message type ${FIRST_USER_TYPE}..${MAX_USER_TYPE}, got "${typeText}"`);
  let json: unknown;
  try {
    json = JSON.parse(jsonText);
  } catch (err) {
    throw new UsageError(`grapevine broadcast: JSON is not valid JSON: ${oneLine((err as Error).message)}`);
  }
  return { target: parseTarget('broadcast', values.http, values['token-file']), type, json };
}

export async function runBroadcast(s: BroadcastSettings): Promise<number> {
  try {
    const a = await call(s.target, 'POST', '/v1/broadcast', JSON.stringify({ type: s.type, json: s.json }));
    if (a.status !== 202) {
      process.stderr.write(`grapevine broadcast: the agent answered ${errorText(a)}\n`);
      return 1;
    }
    process.stdout.write(a.body.toString('utf8'));
    return 0;
  } catch (err) {
    process.stderr.write(`grapevine broadcast: cannot reach ${s.target.http}: ${why(err)}\n`);
    return 1;
  }
}
