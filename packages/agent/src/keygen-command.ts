/**
 * `grapevine keygen [--out FILE [--force]]`: a new random 32-byte key in base64. Without --out it
 * is printed on stdout (one line). With --out it is written to FILE created with mode 0600, so the
 * secret is never readable by group or others, not even for a moment; an existing FILE is left
 * alone (usage error) unless --force, which replaces it by a new 0600 file (the old one, whatever
 * its mode or kind, is removed first rather than written through).
 */
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { encodeKey, generateKey, keyId } from '@grapevine/crypto';
import { formatKeyId } from './key-reload.js';
import { UsageError, parseArgsError } from './usage-error.js';

export interface KeygenSettings {
  out?: string;
  force: boolean;
}

/** Parse keygen flags; undefined for --help. */
export function parseKeygenArgs(argv: string[]): KeygenSettings | undefined {
  let values;
  try {
    values = parseArgs({ args: argv, options: { out: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw parseArgsError('keygen', err);
  }
  if (values.help) return undefined;
  if (values.force && values.out === undefined) throw new UsageError('grapevine keygen: --force needs --out');
  if (values.out !== undefined && values.out.length === 0) throw new UsageError('grapevine keygen: --out must not be empty');
  return { ...(values.out !== undefined ? { out: values.out } : {}), force: values.force ?? false };
}

export function runKeygen(s: KeygenSettings): number {
  const key = generateKey();
  const line = `${encodeKey(key)}\n`;
  if (s.out === undefined) {
    process.stdout.write(line);
    return 0;
  }
  if (s.force) {
    try {
      unlinkSync(s.out);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new UsageError(`grapevine keygen: cannot replace ${s.out}: ${code ?? (err as Error).message}`);
    }
  }
  let fd: number;
  try {
    // O_EXCL: never follow a symlink planted at the path or write into a file someone else opened.
    fd = openSync(s.out, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`grapevine keygen: ${s.out} exists; pass --force to replace it`);
    throw new UsageError(`grapevine keygen: cannot create ${s.out}: ${code ?? (err as Error).message}`);
  }
  try {
    writeSync(fd, line);
  } finally {
    closeSync(fd);
  }
  process.stdout.write(`wrote a new key to ${s.out} (mode 0600, key id ${formatKeyId(keyId(key))})\n`);
  return 0;
}
