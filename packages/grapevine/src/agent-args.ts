/**
 * `grapevine agent` flags → settings. Every mistake is a UsageError (one line, exit 2), an
 * unreadable or malformed --key-file included; flags the contract reserves for later (--kv, --mesh,
 * --transport ws) are recognised and refused clearly rather than silently ignored.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { formatHostPort, parseHostPort, profiles, type ProfileName } from '@grapevine/core';
import { loadKeyFileSync } from '@grapevine/crypto';
import { checkResolves, loadAgentConfig, type ProtocolOverrides } from './agent-config.js';
import { CIPHERS, COMPRESSORS, DEFAULT_BIND, DEFAULT_PORT, type CipherName, type CompressName } from './create-cluster.js';
import { isLogLevel, LOG_LEVELS, type LogLevelName } from './json-logger.js';
import { UsageError, oneLine, parseArgsError } from './usage-error.js';

export interface AgentSettings {
  name: string;
  bind: string;
  advertise?: string;
  seeds: string[];
  transport: 'udp+tcp' | 'tcp';
  meta: Record<string, string>;
  profile?: ProfileName;
  overrides: ProtocolOverrides;
  events: 'json' | undefined;
  http?: string;
  logLevel: LogLevelName;
  /** --key-file: its path (re-read on SIGHUP) and the keys it held at start, primary first. */
  keyFile?: string;
  keys?: Uint8Array[];
  cipher?: CipherName;
  label?: string;
  compress?: CompressName;
}

const OPTIONS = {
  bind: { type: 'string' },
  advertise: { type: 'string' },
  join: { type: 'string', multiple: true },
  name: { type: 'string' },
  transport: { type: 'string' },
  meta: { type: 'string', multiple: true },
  config: { type: 'string' },
  events: { type: 'string' },
  http: { type: 'string' },
  profile: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'key-file': { type: 'string' },
  cipher: { type: 'string' },
  label: { type: 'string' },
  compress: { type: 'string' },
  // Reserved by the CLI contract for features that land later.
  kv: { type: 'boolean' },
  mesh: { type: 'boolean' },
} as const;

const NOT_YET: Record<string, string> = {
  kv: 'the key-value store',
  mesh: 'the invalidation mesh',
};

/** Parse agent flags; returns undefined for --help (the caller prints usage). */
export function parseAgentArgs(argv: string[]): AgentSettings | undefined {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    throw parseArgsError('agent', err);
  }
  if (values.help) return undefined;
  const fail = (msg: string): never => {
    throw new UsageError(`grapevine agent: ${msg}`);
  };
  for (const [flag, what] of Object.entries(NOT_YET)) {
    if ((values as Record<string, unknown>)[flag] !== undefined) fail(`--${flag} is not supported yet (${what} is not implemented in this version)`);
  }

  const transport = values.transport ?? 'udp+tcp';
  if (transport === 'ws') fail('--transport ws is not available yet (use udp+tcp or tcp)');
  if (transport !== 'udp+tcp' && transport !== 'tcp') fail(`--transport must be udp+tcp or tcp, got "${transport}"`);

  const file = values.config !== undefined ? loadAgentConfig(values.config) : { overrides: {} as ProtocolOverrides };

  const budget = file.overrides.packetBudget;
  if (budget !== undefined && transport === 'udp+tcp' && (!Number.isInteger(budget) || budget > 65_507)) {
    fail(`packetBudget must be an integer of at most 65507 bytes (the largest UDP payload) with --transport udp+tcp, got ${budget}`);
  }

  const bind = address('--bind', values.bind ?? DEFAULT_BIND, DEFAULT_PORT);
  const advertise = values.advertise === undefined ? undefined : address('--advertise', values.advertise);
  const http = values.http === undefined ? undefined : address('--http', values.http);

  const seeds = [...(('seeds' in file ? file.seeds : undefined) ?? []), ...(values.join ?? [])].map((s) => seed(s));

  const meta: Record<string, string> = { ...(('meta' in file ? file.meta : undefined) ?? {}) };
  for (const kv of values.meta ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) fail(`--meta takes KEY=VALUE, got "${kv}"`);
    meta[kv.slice(0, eq)] = kv.slice(eq + 1);
  }

  let profile = 'profile' in file ? file.profile : undefined;
  if (values.profile !== undefined) {
    if (!(values.profile in profiles)) fail(`--profile must be one of ${Object.keys(profiles).join(', ')}, got "${values.profile}"`);
    profile = values.profile as ProfileName;
    checkResolves(profile, file.overrides, `--profile ${profile} with --config`);
  }

  let events: 'json' | undefined;
  if (values.events !== undefined) {
    if (values.events !== 'json') fail(`--events takes "json", got "${values.events}"`);
    events = 'json';
  }

  const logLevel = values['log-level'] ?? 'info';
  if (!isLogLevel(logLevel)) fail(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);

  const name = values.name ?? ('name' in file ? file.name : undefined) ?? hostname();
  if (name.length === 0) fail('--name must not be empty');

  const cipher = values.cipher;
  if (cipher !== undefined) {
    if (!Object.hasOwn(CIPHERS, cipher)) fail(`--cipher must be one of ${Object.keys(CIPHERS).join(', ')}, got "${cipher}"`);
    if (values['key-file'] === undefined) fail('--cipher needs --key-file');
  }
  const compress = values.compress;
  if (compress !== undefined && !Object.hasOwn(COMPRESSORS, compress)) fail(`--compress must be snappy or none, got "${compress}"`);
  const label = values.label;
  if (label !== undefined) {
    if (label.length === 0) fail('--label must not be empty');
    if (Buffer.byteLength(label, 'utf8') > 255) fail('--label must be at most 255 bytes of UTF-8');
  }
  const keyFile = values['key-file'];
  const keys = keyFile === undefined ? undefined : readKeyFile(keyFile);

  return {
    name,
    bind,
    ...(advertise !== undefined ? { advertise } : {}),
    seeds: [...new Set(seeds)],
    transport: transport as 'udp+tcp' | 'tcp',
    meta,
    ...(profile !== undefined ? { profile } : {}),
    overrides: file.overrides,
    events,
    ...(http !== undefined ? { http } : {}),
    logLevel: logLevel as LogLevelName,
    ...(keyFile !== undefined ? { keyFile, keys } : {}),
    ...(cipher !== undefined ? { cipher: cipher as CipherName } : {}),
    ...(label !== undefined ? { label } : {}),
    ...(compress !== undefined ? { compress: compress as CompressName } : {}),
  };
}

/** The keys of a --key-file, or a one-line UsageError (never echoing the file's contents). */
export function readKeyFile(path: string): Uint8Array[] {
  try {
    return loadKeyFileSync(path);
  } catch (err) {
    throw new UsageError(`grapevine agent: --key-file: ${oneLine(err instanceof Error ? err.message : String(err))}`);
  }
}

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
}

function address(flag: string, value: string, defaultPort?: number): string {
  try {
    return formatHostPort(parseHostPort(value, defaultPort));
  } catch (err) {
    throw new UsageError(`grapevine agent: ${flag}: ${(err as Error).message}`);
  }
}

function seed(value: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (['dns', 'dns+srv', 'ws', 'wss'].includes(scheme)) {
      throw new UsageError(`grapevine agent: --join ${value}: ${scheme}:// seeds are not supported yet (use host:port)`);
    }
    throw new UsageError(`grapevine agent: --join ${value}: unknown scheme "${scheme}://" (use host:port)`);
  }
  return address('--join', value, DEFAULT_PORT);
}
