/**
 * `grapevine kv get|set|del --http HOST:PORT [--token-file PATH] KEY [VALUE] [--ttl MS]`: the KV
 * store of an agent started with --kv (its /v1/kv/{key} routes). `get` prints the value's bytes
 * as stored and exits 1 (printing nothing) when the key is absent; `set` takes VALUE as text,
 * `--ttl MS` to expire it; `del` prints whether a value was deleted.
 */
import { parseArgs } from 'node:util';
import { call, errorText, parseTarget, why, type AgentTarget } from './client-http.js';
import { UsageError, parseArgsError } from './usage-error.js';

export interface KvSettings {
  target: AgentTarget;
  op: 'get' | 'set' | 'del';
  key: string;
  value?: string;
  ttl?: number;
}

export function parseKvArgs(argv: string[]): KvSettings | undefined {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: { http: { type: 'string' }, 'token-file': { type: 'string' }, ttl: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true }));
  } catch (err) {
    throw parseArgsError('kv', err);
  }
  if (values.help) return undefined;
  const [op, key, value, ...extra] = positionals;
  if (op !== 'get' && op !== 'set' && op !== 'del') throw new UsageError(`grapevine kv: the first argument is get, set or del, got ${op === undefined ? 'nothing' : `"${op}"`}`);
  if (key === undefined || key === '') throw new UsageError(`grapevine kv ${op}: KEY is required`);
  const want = op === 'set' ? 1 : 0;
  if ((value === undefined ? 0 : 1) + extra.length !== want) throw new UsageError(op === 'set' ? 'grapevine kv set: takes KEY and VALUE' : `grapevine kv ${op}: takes only KEY`);
  let ttl: number | undefined;
  if (values.ttl !== undefined) {
    if (op !== 'set') throw new UsageError('grapevine kv: --ttl goes with set');
    if (!/^[1-9][0-9]{0,14}$/.test(values.ttl)) throw new UsageError(`grapevine kv set: --ttl must be a positive number of milliseconds, got "${values.ttl}"`);
    ttl = Number(values.ttl);
  }
  return { target: parseTarget('kv', values.http, values['token-file']), op, key, ...(value !== undefined ? { value } : {}), ...(ttl !== undefined ? { ttl } : {}) };
}

export async function runKv(s: KvSettings): Promise<number> {
  const path = `/v1/kv/${encodeURIComponent(s.key)}`;
  try {
    if (s.op === 'get') {
      const a = await call(s.target, 'GET', path);
      if (a.status === 404) return 1;
      if (a.status !== 200) return fail(`the agent answered ${errorText(a)}`);
      process.stdout.write(a.body);
      if (process.stdout.isTTY && !a.body.toString('utf8').endsWith('\n')) process.stdout.write('\n');
      return 0;
    }
    if (s.op === 'set') {
      const a = await call(s.target, 'PUT', `${path}${s.ttl !== undefined ? `?ttl=${s.ttl}` : ''}`, Buffer.from(s.value ?? '', 'utf8'));
      if (a.status !== 204 && a.status !== 200) return fail(`the agent answered ${errorText(a)}`);
      return 0;
    }
    const a = await call(s.target, 'DELETE', path);
    if (a.status !== 200) return fail(`the agent answered ${errorText(a)}`);
    process.stdout.write(a.body.toString('utf8'));
    return 0;
  } catch (err) {
    return fail(`cannot reach ${s.target.http}: ${why(err)}`);
  }
}

function fail(msg: string): number {
  process.stderr.write(`grapevine kv: ${msg}\n`);
  return 1;
}
