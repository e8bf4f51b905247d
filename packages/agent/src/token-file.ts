/**
 * A bearer-token file (--http-token-file for the agent, --token-file for the client commands):
 * one token on one line, printable ASCII without spaces, at most 4096 characters; read with the
 * size bound and special-file checks of flag-file.ts. The token is never echoed in an error.
 */
import { MAX_TOKEN_FILE_BYTES, readFlagFile } from './flag-file.js';
import { UsageError } from './usage-error.js';

const TOKEN_RE = /^[\x21-\x7e]{1,4096}$/;

export function readTokenFile(command: string, flag: string, file: string, warnings?: string[]): string {
  const fail = (msg: string): never => {
    throw new UsageError(`grapevine ${command}: ${flag} ${file}: ${msg}`);
  };
  const text = readFlagFile(command, flag, file, { maxBytes: MAX_TOKEN_FILE_BYTES, secret: true, ...(warnings ? { warnings } : {}) });
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length === 0) fail('the file is empty');
  if (lines.length > 1) fail('the file must hold one token on one line');
  const token = lines[0]!.replace(/^\uFEFF/, '');
  if (!TOKEN_RE.test(token)) fail('a token must be 1..4096 printable ASCII characters without spaces');
  return token;
}
