/**
 * The logger createCluster uses when given none: warnings and errors as pino-shaped JSON lines on
 * stderr, so a seed that cannot be reached, a refused join or a DNS miss is never silent. The
 * GRAPEVINE_LOG_LEVEL environment variable (debug, info, warn, error, silent) changes the level
 * without touching code; pass `logger` (pino, or createJsonLogger) for anything else.
 */
import type { Logger } from '@grapevine/core';
import { createJsonLogger, isLogLevel, type LogLevelName } from './json-logger.js';

/** The level of the default logger: GRAPEVINE_LOG_LEVEL when it names one, else 'warn'. */
export function defaultLogLevel(env: Record<string, string | undefined> = process.env): LogLevelName {
  const v = env.GRAPEVINE_LOG_LEVEL?.trim().toLowerCase();
  return v !== undefined && isLogLevel(v) ? v : 'warn';
}

export function defaultLogger(name: string): Logger {
  return createJsonLogger({ level: defaultLogLevel(), base: { node: name } });
}
