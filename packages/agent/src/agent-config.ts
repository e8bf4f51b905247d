/**
 * `grapevine agent --config FILE`: a JSON object of core options by their documented names
 * (`{"profile": "fast", "probeInterval": 500}`), checked strictly: an unknown key or a value of
 * the wrong type is a usage error, and so is a combination the core rejects.
 */
import { GrapevineError, defaultLimits, profiles, resolveConfig, type Limits, type ProfileName, type ProtocolConfig } from '@grapevine/core';
import { MAX_CONFIG_FILE_BYTES, readFlagFile } from './flag-file.js';
import { UsageError, oneLine } from './usage-error.js';

export type ProtocolOverrides = Partial<Omit<ProtocolConfig, 'limits'>> & { limits?: Partial<Limits> };

export interface AgentFileConfig {
  profile?: ProfileName;
  overrides: ProtocolOverrides;
  name?: string;
  meta?: Record<string, string>;
  seeds?: string[];
  /** createCluster's seedRefreshInterval (ms). */
  seedRefreshInterval?: number;
}

const PROFILE_NAMES = Object.keys(profiles) as ProfileName[];
/** Every protocol option and the type of its value, taken from the defaults. */
const PROTOCOL_KEYS = new Map<string, 'number' | 'boolean'>(
  Object.entries(profiles.lan)
    .filter(([k]) => k !== 'limits')
    .map(([k, v]) => [k, typeof v === 'boolean' ? 'boolean' : 'number']),
);
const LIMIT_KEYS = new Set(Object.keys(defaultLimits));
const OTHER_KEYS = ['profile', 'limits', 'name', 'meta', 'seeds', 'seedRefreshInterval'];

export function loadAgentConfig(path: string): AgentFileConfig {
  const text = readFlagFile('agent', '--config', path, { maxBytes: MAX_CONFIG_FILE_BYTES });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`grapevine agent: --config ${path} is not valid JSON: ${oneLine((err as Error).message)}`);
  }
  return parseAgentConfig(value, `--config ${path}`);
}

/** Check a parsed config object; `where` prefixes error messages. */
export function parseAgentConfig(value: unknown, where: string): AgentFileConfig {
  const fail = (msg: string): never => {
    throw new UsageError(`grapevine agent: ${where}: ${msg}`);
  };
  if (!isPlainObject(value)) return fail('must be a JSON object of options');
  const out: AgentFileConfig = { overrides: {} };
  const overrides = out.overrides as Record<string, unknown>;
  for (const [key, v] of Object.entries(value)) {
    const type = PROTOCOL_KEYS.get(key);
    if (type !== undefined) {
      if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) fail(`option "${key}" must be a ${type}, got ${describe(v)}`);
      overrides[key] = v;
      continue;
    }
    switch (key) {
      case 'profile':
        if (typeof v !== 'string' || !(PROFILE_NAMES as string[]).includes(v)) fail(`option "profile" must be one of ${PROFILE_NAMES.join(', ')}, got ${describe(v)}`);
        out.profile = v as ProfileName;
        break;
      case 'limits': {
        if (!isPlainObject(v)) return fail(`option "limits" must be an object, got ${describe(v)}`);
        const limits: Record<string, number> = {};
        for (const [lk, lv] of Object.entries(v)) {
          if (!LIMIT_KEYS.has(lk)) fail(`unknown limit "${lk}" (known: ${[...LIMIT_KEYS].join(', ')})`);
          if (typeof lv !== 'number' || !Number.isInteger(lv) || lv <= 0) fail(`limit "${lk}" must be a positive integer, got ${describe(lv)}`);
          limits[lk] = lv as number;
        }
        out.overrides.limits = limits;
        break;
      }
      case 'name':
        if (typeof v !== 'string' || v.length === 0) fail(`option "name" must be a non-empty string, got ${describe(v)}`);
        out.name = v as string;
        break;
      case 'meta': {
        if (!isPlainObject(v)) return fail(`option "meta" must be an object of strings, got ${describe(v)}`);
        for (const [mk, mv] of Object.entries(v)) if (typeof mv !== 'string') fail(`meta "${mk}" must be a string, got ${describe(mv)}`);
        out.meta = { ...(v as Record<string, string>) };
        break;
      }
      case 'seeds':
        if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(`option "seeds" must be an array of address strings`);
        out.seeds = [...(v as string[])];
        break;
      case 'seedRefreshInterval':
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 100) fail(`option "seedRefreshInterval" must be a number of milliseconds, at least 100, got ${describe(v)}`);
        out.seedRefreshInterval = v as number;
        break;
      default:
        fail(`unknown option "${key}" (options are the core option names: ${[...PROTOCOL_KEYS.keys(), ...OTHER_KEYS].join(', ')})`);
    }
  }
  checkResolves(out.profile, out.overrides, where);
  return out;
}

/** Let the core judge ranges and combinations (probeTimeout < probeInterval ...) now, as a usage error. */
export function checkResolves(profile: ProfileName | undefined, overrides: ProtocolOverrides, where: string): void {
  try {
    resolveConfig(profile, overrides as Partial<ProtocolConfig>);
  } catch (err) {
    if (err instanceof GrapevineError) throw new UsageError(`grapevine agent: ${where}: ${oneLine(err.message)}`);
    throw err;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
