/** A mistake in how the CLI was invoked: printed as one line on stderr, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** One line, whatever the message held. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** parseArgs' errors, reworded as one line naming the command. */
export function parseArgsError(command: string, err: unknown): UsageError {
  const message = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
  return new UsageError(`grapevine ${command}: ${oneLine(message)} (see: grapevine help)`);
}
