/**
 * `grapevine agent` flags → settings. Every mistake is a UsageError (one line, exit 2), an
 * unreadable or malformed --key-file, --ws-token-file or certificate file included; flags the
 * contract reserves for later (--mesh) are recognised and refused clearly rather than
 * silently ignored.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { profiles, type ProfileName } from '@grapevine/core';
import { loadKeyFileSync } from '@grapevine/crypto';
import { checkResolves, loadAgentConfig, type ProtocolOverrides } from './agent-config.js';
import { parseWsFlags, type AgentWsSettings } from './agent-ws-args.js';
import { CIPHERS, COMPRESSORS, DEFAULT_BIND, DEFAULT_PORT, type CipherName, type CompressName, type LogLevelName, type MulticastOption, type TransportName } from '@grapevine/node';
import { checkMulticastOption, checkSeeds, isLogLevel, LOG_LEVELS, normalizeListenAddress, seedLabel } from '@grapevine/node/internal';
import { KV_FLAGS, parseKvFlags, type KvAgentSettings } from './kv-agent.js';
import { readTokenFile } from './token-file.js';
import { UsageError, oneLine, parseArgsError } from './usage-error.js';

export interface AgentSettings {
  name: string;
  bind: string;
  advertise?: string;
  /** Seeds in any discovery form, normalized (host:port, dns://host:port, dns+srv://name, ws(s):// URL). */
  seeds: string[];
  transport: TransportName;
  /** --transport ws: path, bearer token, TLS. */
  ws?: AgentWsSettings;
  /** --multicast and its --multicast-* settings. */
  multicast?: MulticastOption;
  /** From --config: how often DNS seeds are looked up again (ms). */
  seedRefreshInterval?: number;
  meta: Record<string, string>;
  profile?: ProfileName;
  overrides: ProtocolOverrides;
  events: 'json' | undefined;
  http?: string;
  /** --http-max-event-clients / --http-event-buffer-bytes: the bounds on GET /v1/events clients. */
  httpMaxEventClients?: number;
  httpEventBufferBytes?: number;
  /** --http-token-file: the bearer token every HTTP request but /healthz must carry. */
  httpToken?: string;
  /** --http-max-body-bytes, --http-replay-events, --http-rate-limit (0: off), --http-rate-burst. */
  httpMaxBodyBytes?: number;
  httpReplayEvents?: number;
  httpRateLimit?: number;
  httpRateBurst?: number;
  logLevel: LogLevelName;
  /** --key-file: its path (re-read on SIGHUP) and the keys it held at start, primary first. */
  keyFile?: string;
  keys?: Uint8Array[];
  cipher?: CipherName;
  label?: string;
  compress?: CompressName;
  /** Warnings about the flags' files (a secret others may read), logged by the agent at start. */
  warnings: string[];
  /** --kv and its --kv-* settings. */
  kv?: KvAgentSettings;
  /** --mesh: run the invalidation bus and serve it under /v1/mesh (mesh-agent.ts). */
  mesh?: boolean;
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
  'http-max-event-clients': { type: 'string' },
  'http-event-buffer-bytes': { type: 'string' },
  'http-token-file': { type: 'string' },
  'http-max-body-bytes': { type: 'string' },
  'http-replay-events': { type: 'string' },
  'http-rate-limit': { type: 'string' },
  'http-rate-burst': { type: 'string' },
  profile: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'key-file': { type: 'string' },
  cipher: { type: 'string' },
  label: { type: 'string' },
  compress: { type: 'string' },
  'ws-path': { type: 'string' },
  'ws-token-file': { type: 'string' },
  'ws-cert-file': { type: 'string' },
  'ws-key-file': { type: 'string' },
  'ws-ca-file': { type: 'string' },
  multicast: { type: 'boolean' },
  'multicast-group': { type: 'string' },
  'multicast-port': { type: 'string' },
  'multicast-interface': { type: 'string' },
  ...KV_FLAGS,
  mesh: { type: 'boolean' },
} as const;

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

  const transportFlag = values.transport ?? 'udp+tcp';
  if (transportFlag !== 'udp+tcp' && transportFlag !== 'tcp' && transportFlag !== 'ws') fail(`--transport must be udp+tcp, tcp or ws, got "${transportFlag}"`);
  const transport = transportFlag as TransportName;
  const warnings: string[] = [];
  const ws = parseWsFlags(values, transport, warnings);

  const file = values.config !== undefined ? loadAgentConfig(values.config) : { overrides: {} as ProtocolOverrides };

  const budget = file.overrides.packetBudget;
  if (budget !== undefined && transport === 'udp+tcp' && (!Number.isInteger(budget) || budget > 65_507)) {
    fail(`packetBudget must be an integer of at most 65507 bytes (the largest UDP payload) with --transport udp+tcp, got ${budget}`);
  }

  const bind = address('--bind', values.bind ?? DEFAULT_BIND, DEFAULT_PORT);
  // The WebSocket transport also takes a URL: a proxy or load balancer in front of it.
  const advertise =
    values.advertise === undefined ? undefined : transport === 'ws' && /^wss?:\/\//i.test(values.advertise) ? wsUrl('--advertise', values.advertise) : address('--advertise', values.advertise);
  const http = values.http === undefined ? undefined : address('--http', values.http);
  const httpMaxEventClients = countFlag('--http-max-event-clients', values['http-max-event-clients'], http);
  const httpEventBufferBytes = countFlag('--http-event-buffer-bytes', values['http-event-buffer-bytes'], http);
  const httpMaxBodyBytes = countFlag('--http-max-body-bytes', values['http-max-body-bytes'], http);
  const httpReplayEvents = countFlag('--http-replay-events', values['http-replay-events'], http);
  const httpRateLimit = values['http-rate-limit'] === '0' && http !== undefined ? 0 : countFlag('--http-rate-limit', values['http-rate-limit'], http);
  const httpRateBurst = countFlag('--http-rate-burst', values['http-rate-burst'], http);
  const tokenFile = values['http-token-file'];
  if (tokenFile !== undefined && http === undefined) fail('--http-token-file needs --http');

  const seeds = [...(('seeds' in file ? file.seeds : undefined) ?? []), ...(values.join ?? [])].map((s) => seed(s, transport));
  const multicast = multicastFlags(values);
  const kv = parseKvFlags(values);

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
  const keys = keyFile === undefined ? undefined : readKeyFile(keyFile, warnings);
  const httpToken = tokenFile === undefined ? undefined : readTokenFile('agent', '--http-token-file', tokenFile, warnings);

  return {
    name,
    bind,
    ...(advertise !== undefined ? { advertise } : {}),
    seeds: [...new Set(seeds)],
    transport,
    ...(ws !== undefined ? { ws } : {}),
    ...(multicast !== undefined ? { multicast } : {}),
    ...('seedRefreshInterval' in file && file.seedRefreshInterval !== undefined ? { seedRefreshInterval: file.seedRefreshInterval } : {}),
    meta,
    ...(profile !== undefined ? { profile } : {}),
    overrides: file.overrides,
    events,
    ...(http !== undefined ? { http } : {}),
    ...(httpMaxEventClients !== undefined ? { httpMaxEventClients } : {}),
    ...(httpEventBufferBytes !== undefined ? { httpEventBufferBytes } : {}),
    ...(httpToken !== undefined ? { httpToken } : {}),
    ...(httpMaxBodyBytes !== undefined ? { httpMaxBodyBytes } : {}),
    ...(httpReplayEvents !== undefined ? { httpReplayEvents } : {}),
    ...(httpRateLimit !== undefined ? { httpRateLimit } : {}),
    ...(httpRateBurst !== undefined ? { httpRateBurst } : {}),
    logLevel: logLevel as LogLevelName,
    ...(keyFile !== undefined ? { keyFile, keys } : {}),
    ...(cipher !== undefined ? { cipher: cipher as CipherName } : {}),
    ...(label !== undefined ? { label } : {}),
    ...(compress !== undefined ? { compress: compress as CompressName } : {}),
    warnings,
    ...(kv !== undefined ? { kv } : {}),
    ...(values.mesh ? { mesh: true } : {}),
  };
}

/**
 * The keys of a --key-file, or a one-line UsageError (never echoing the file's contents). A FIFO, a
 * device, a directory or a file larger than a keyring can be is refused before it is read; a file
 * group or others may read adds a warning to `warnings`.
 */
export function readKeyFile(path: string, warnings: string[] = []): Uint8Array[] {
  try {
    return loadKeyFileSync(path, { warn: (m) => warnings.push(m.replace(/^key file/, '--key-file')) });
  } catch (err) {
    throw new UsageError(`grapevine agent: --key-file: ${oneLine(err instanceof Error ? err.message : String(err))}`);
  }
}

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
}

/** A positive integer flag that only makes sense with --http. */
function countFlag(flag: string, value: string | undefined, http: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (http === undefined) throw new UsageError(`grapevine agent: ${flag} needs --http`);
  if (!/^[1-9][0-9]{0,14}$/.test(value)) throw new UsageError(`grapevine agent: ${flag} must be a positive integer, got "${value}"`);
  return Number(value);
}

function address(flag: string, value: string, defaultPort?: number): string {
  try {
    return normalizeListenAddress(flag, value, defaultPort);
  } catch (err) {
    throw new UsageError(`grapevine agent: ${flag}: ${(err as Error).message}`);
  }
}

/** A --join value (or a --config seed) in any discovery form, normalized; a bad one is a usage error. */
function seed(value: string, transport: TransportName): string {
  try {
    return seedLabel(checkSeeds([value], transport)[0]!);
  } catch (err) {
    throw new UsageError(`grapevine agent: --join: ${oneLine((err as Error).message)}`);
  }
}

function wsUrl(flag: string, value: string): string {
  try {
    const d = checkSeeds([value], 'ws')[0]!;
    return seedLabel(d);
  } catch (err) {
    throw new UsageError(`grapevine agent: ${flag}: ${oneLine((err as Error).message)}`);
  }
}

type Values = ReturnType<typeof parse>['values'];

/** --multicast [--multicast-group G] [--multicast-port P] [--multicast-interface I]. */
function multicastFlags(values: Values): MulticastOption | undefined {
  const sub = (['multicast-group', 'multicast-port', 'multicast-interface'] as const).filter((f) => values[f] !== undefined);
  if (!values.multicast) {
    if (sub.length > 0) throw new UsageError(`grapevine agent: --${sub[0]} needs --multicast`);
    return undefined;
  }
  const option: MulticastOption = {};
  if (values['multicast-group'] !== undefined) option.group = values['multicast-group'];
  if (values['multicast-interface'] !== undefined) option.interface = values['multicast-interface'];
  const port = values['multicast-port'];
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65_535) throw new UsageError(`grapevine agent: --multicast-port must be a port number 1..65535, got "${port}"`);
    option.port = Number(port);
  }
  try {
    return checkMulticastOption(option);
  } catch (err) {
    throw new UsageError(`grapevine agent: --multicast: ${oneLine((err as Error).message)}`);
  }
}
