/**
 * The agent's logger: pino, JSON lines on stderr (fd 2, written synchronously so the last lines
 * before an exit are never lost). When stderr is a terminal and the optional `pino-pretty` package
 * can be imported, lines are pretty-printed instead; it is not a dependency, so a plain install
 * stays JSON. The library (@grapevine/node) keeps its own small default logger.
 */
import type { Logger } from '@grapevine/core';
import type { LogLevelName } from '@grapevine/node';
import { pino, destination, type DestinationStream } from 'pino';

export interface AgentLoggerOptions {
  level: LogLevelName;
  /** Fields on every line, e.g. { node: name }. */
  base?: Record<string, unknown>;
  /** Where lines go; default stderr. Pretty printing is only tried for the default. */
  stream?: DestinationStream;
}

/** pino calls the level "silent" too, so LogLevelName maps straight through. */
export async function createAgentLogger(opts: AgentLoggerOptions): Promise<Logger> {
  // Numeric levels and epoch-ms times, as the library's JSON logger writes them (scripts read both).
  const common = { level: opts.level, base: opts.base ?? {} };
  let stream: DestinationStream | undefined = opts.stream;
  if (stream === undefined && process.stderr.isTTY) stream = await prettyStream();
  stream ??= destination({ fd: 2, sync: true });
  return pino(common, stream) as unknown as Logger;
}

async function prettyStream(): Promise<DestinationStream | undefined> {
  try {
    // A computed specifier so TypeScript does not need pino-pretty's types.
    const name = 'pino-pretty';
    const mod = (await import(name)) as { default?: (o: object) => DestinationStream };
    return mod.default?.({ destination: 2, sync: true, colorize: true });
  } catch {
    return undefined;
  }
}
