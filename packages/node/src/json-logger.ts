/**
 * A tiny pino-shaped logger: one JSON object per line (`level`, `time`, `msg`, then the fields),
 * written to a stream (stderr by default), with a level filter. Enough for the agent and the demo;
 * pass a real pino logger to createCluster for anything more.
 */
import type { Logger } from '@grapevine/core';

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export const LOG_LEVELS: readonly LogLevelName[] = ['debug', 'info', 'warn', 'error', 'silent'];

/** pino's numeric levels. */
const LEVEL_VALUE: Record<LogLevelName, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: Infinity };

export interface JsonLoggerOptions {
  level?: LogLevelName;
  /** Where lines go; default process.stderr. */
  write?: (line: string) => void;
  /** Fields added to every line (a node name, say). */
  base?: Record<string, unknown>;
}

export function isLogLevel(s: string): s is LogLevelName {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export function createJsonLogger(opts: JsonLoggerOptions = {}): Logger {
  const threshold = LEVEL_VALUE[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => void process.stderr.write(line));
  const base = opts.base ?? {};
  const log = (level: Exclude<LogLevelName, 'silent'>) => (obj: object | string, msg?: string): void => {
    const value = LEVEL_VALUE[level];
    if (value < threshold) return;
    const fields = typeof obj === 'string' ? {} : serializeFields(obj);
    const text = typeof obj === 'string' ? obj : msg;
    const record: Record<string, unknown> = { level: value, time: Date.now(), ...base, ...fields };
    if (text !== undefined) record.msg = text;
    try {
      write(`${safeStringify(record)}\n`);
    } catch {
      // a logger never throws into its caller
    }
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

function serializeFields(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = v instanceof Error ? serializeError(v) : v;
  return out;
}

function serializeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.cause instanceof Error) out.cause = serializeError(err.cause);
  return out;
}

function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  } catch {
    return JSON.stringify({ level: 50, time: Date.now(), msg: 'unserializable log record' });
  }
}
