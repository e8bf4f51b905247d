/**
 * Reading the files agent flags name (--key-file, --ws-token-file, --ws-cert-file, --ws-key-file,
 * --ws-ca-file, --config): each must be a regular file within a size bound, checked on the open
 * descriptor before anything is read (readSmallFileSync), so /dev/zero, a FIFO or a directory is
 * one usage-error line (exit 2) instead of a process that floods its memory or hangs before it
 * binds. A file holding a secret that group or others may read adds a warning, which the agent
 * logs once it runs (as ssh warns about a private key file that is too open).
 */
import { exposedMode, formatMode, readSmallFileSync } from '@grapevine/crypto';
import { UsageError, oneLine } from './usage-error.js';

/** The largest --ws-token-file: one token of at most 4096 characters, with room for whitespace. */
export const MAX_TOKEN_FILE_BYTES = 64 * 1024;
/** The largest PEM file (--ws-cert-file, --ws-key-file, --ws-ca-file): a CA bundle fits easily. */
export const MAX_PEM_FILE_BYTES = 1024 * 1024;
/** The largest --config file. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export interface FlagFileOptions {
  maxBytes: number;
  /** The file holds a secret: warn when group or others may read it. */
  secret?: boolean;
  /** Where warnings go (collected by parseAgentArgs and logged by the agent). */
  warnings?: string[];
}

/** The text of the file `flag` names, or a one-line UsageError naming the flag and the file. */
export function readFlagFile(command: string, flag: string, path: string, o: FlagFileOptions): string {
  let file;
  try {
    file = readSmallFileSync(path, { maxBytes: o.maxBytes, what: flag });
  } catch (err) {
    throw new UsageError(`grapevine ${command}: ${oneLine(err instanceof Error ? err.message : String(err))}`);
  }
  if (o.secret && exposedMode(file.mode)) o.warnings?.push(exposedWarning(flag, path, file.mode));
  return file.text;
}

export function exposedWarning(flag: string, path: string, mode: number): string {
  return `${flag} ${path} is readable by group or others (mode ${formatMode(mode)}); chmod 600 it`;
}
