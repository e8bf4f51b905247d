/**
 * Flags of `pnpm bench:sim`. Every flag is checked before any node exists: a bad one is reported on
 * one stderr line and the process exits 2 (the CLI's convention for bad input, DESIGN.md §3).
 */
import { parseArgs } from 'node:util';
import type { ProfileName } from '@grapevine/core';

export const PHASES = ['join', 'idle', 'broadcast', 'loss', 'crash', 'partition'] as const;
export type Phase = (typeof PHASES)[number];
export type SimCodec = 'json' | 'msgpack';

export interface SimArgs {
  nodes: number;
  /** Simulated seconds of the loss phase (the steady run under --loss). */
  seconds: number;
  /** Simulated seconds of the idle phase (no loss), over which per-node load is measured. */
  idleSeconds: number;
  loss: number;
  seed: number;
  codec: SimCodec;
  seeds: number;
  phases: Phase[];
  profile: ProfileName;
  /** One-way link latency, simulated ms. */
  delay: number;
  /** Give up on any one wait (join, detection, heal) after this many simulated seconds. */
  timeout: number;
  /** Wall seconds between progress lines; 0: none. */
  progress: number;
  /** Stop the whole run after this many wall seconds, with a `stopped` line; 0: never. */
  maxWall: number;
  /** Core option overrides for every node (`--config '{"joinRetransmits":3}'`): for A/B runs. */
  config: Record<string, unknown>;
  /** Add every phase's protocol counters (summed over nodes, since the last phase) to its line. */
  counters: boolean;
}

export class ArgError extends Error {
  readonly code = 'ERR_BAD_FLAG';
}

export const USAGE = `usage: pnpm bench:sim [--nodes N] [--seconds S] [--idle-seconds S] [--loss P] [--seed N]
                      [--codec json|msgpack] [--seeds K] [--phases join,idle,broadcast,loss,crash,partition]
                      [--profile lan|wan|local|fast] [--delay MS] [--timeout S]
                      [--progress WALL_S] [--max-wall WALL_S] [--config JSON] [--counters]`;

const PROFILES: readonly ProfileName[] = ['lan', 'wan', 'local', 'fast'];

function int(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  if (raw === undefined) return def;
  const v = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new ArgError(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return v;
}

function num(name: string, raw: string | undefined, def: number, min: number, max: number, openMax = false): number {
  if (raw === undefined) return def;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < min || v > max || (openMax && v === max)) {
    throw new ArgError(`--${name} must be a number in [${min}, ${max}${openMax ? ')' : ']'}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

/** Parse argv (without node and script). Throws ArgError on anything unknown or out of range. */
export function parseSimArgs(argv: readonly string[]): SimArgs | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        nodes: { type: 'string' },
        seconds: { type: 'string' },
        'idle-seconds': { type: 'string' },
        loss: { type: 'string' },
        seed: { type: 'string' },
        codec: { type: 'string' },
        seeds: { type: 'string' },
        phases: { type: 'string' },
        profile: { type: 'string' },
        delay: { type: 'string' },
        timeout: { type: 'string' },
        progress: { type: 'string' },
        'max-wall': { type: 'string' },
        config: { type: 'string' },
        counters: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ArgError(err instanceof Error ? err.message : String(err));
  }
  if (values.help === true) return 'help';
  const s = (k: string): string | undefined => values[k] as string | undefined;
  const nodes = int('nodes', s('nodes'), 1000, 2, 100_000);
  const codec = s('codec') ?? 'msgpack';
  if (codec !== 'json' && codec !== 'msgpack') throw new ArgError(`--codec must be json or msgpack, got ${JSON.stringify(codec)}`);
  const profile = (s('profile') ?? 'lan') as ProfileName;
  if (!PROFILES.includes(profile)) throw new ArgError(`--profile must be one of ${PROFILES.join(', ')}, got ${JSON.stringify(profile)}`);
  let phases: Phase[] = [...PHASES];
  const rawPhases = s('phases');
  if (rawPhases !== undefined) {
    const picked = rawPhases.split(',').map((p) => p.trim());
    for (const p of picked) {
      if (!(PHASES as readonly string[]).includes(p)) throw new ArgError(`--phases: unknown phase ${JSON.stringify(p)} (known: ${PHASES.join(', ')})`);
    }
    // Run in the canonical order whatever order they were named in; join always runs first
    // because every other phase starts from a converged cluster.
    phases = PHASES.filter((p) => p === 'join' || picked.includes(p));
  }
  const seeds = int('seeds', s('seeds'), 1, 1, 64);
  if (seeds > nodes) throw new ArgError(`--seeds (${seeds}) cannot exceed --nodes (${nodes})`);
  return {
    nodes,
    seconds: num('seconds', s('seconds'), 60, 0, 86_400),
    idleSeconds: num('idle-seconds', s('idle-seconds'), 10, 1, 86_400),
    loss: num('loss', s('loss'), 0, 0, 1, true),
    seed: int('seed', s('seed'), 1, 0, 0xffff_ffff),
    codec,
    seeds,
    phases,
    profile,
    delay: int('delay', s('delay'), 1, 0, 10_000),
    timeout: num('timeout', s('timeout'), 300, 1, 86_400),
    progress: num('progress', s('progress'), 10, 0, 86_400),
    maxWall: num('max-wall', s('max-wall'), 0, 0, 7 * 86_400),
    config: parseConfig(s('config')),
    counters: values.counters === true,
  };
}

/** A JSON object of core options; Cluster.create checks each one when the first node is made. */
function parseConfig(raw: string | undefined): Record<string, unknown> {
  if (raw === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new ArgError(`--config must be a JSON object of core options, got ${JSON.stringify(raw)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ArgError(`--config must be a JSON object of core options, got ${JSON.stringify(raw)}`);
  return v as Record<string, unknown>;
}
