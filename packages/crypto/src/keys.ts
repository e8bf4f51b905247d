import { randomFillSync } from 'node:crypto';
import { GrapevineError } from '@grapevine/core';
import { KEY_LENGTH } from './ciphers.js';
import { keyId } from './keyring.js';
import { exposedMode, formatMode, readSmallFile, readSmallFileSync, type SmallFile } from './small-file.js';

/**
 * The largest key file accepted: a keyring holds at most 256 keys (key ids are one byte and must
 * differ), 46 bytes a line with CRLF, about 12 KB; the rest leaves room for comments.
 */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

export interface LoadKeyFileOptions {
  /**
   * Called with one line when group or others may read the file (as ssh warns about a private key
   * file that is too open). Default: no warning.
   */
  warn?: (message: string) => void;
}

/** A fresh random 32-byte key from the OS CSPRNG. */
export function generateKey(): Uint8Array {
  return randomFillSync(new Uint8Array(KEY_LENGTH));
}

/** Standard, padded base64 (44 characters for a 32-byte key). */
export function encodeKey(key: Uint8Array): string {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LENGTH) {
    throw new GrapevineError('ERR_INVALID_OPTION', `a key must be ${KEY_LENGTH} bytes`);
  }
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why `text` is not a key, or the key. Never echoes the text (it is a secret). */
function decode(text: string): Uint8Array | string {
  const s = text.trim();
  if (s.length === 0) return 'empty key';
  if (!BASE64.test(s) || s.length % 4 !== 0) return 'not valid base64 (expected standard, padded base64)';
  const buf = Buffer.from(s, 'base64');
  if (buf.toString('base64') !== s) return 'not valid base64 (non-canonical encoding)';
  if (buf.length !== KEY_LENGTH) return `a key must be ${KEY_LENGTH} bytes, this one decodes to ${buf.length}`;
  return new Uint8Array(buf);
}

/** Decodes one base64 key (surrounding whitespace ignored); anything else is an ERR_INVALID_OPTION. */
export function decodeKey(text: string): Uint8Array {
  const r = typeof text === 'string' ? decode(text) : 'a key must be a base64 string';
  if (typeof r === 'string') throw new GrapevineError('ERR_INVALID_OPTION', `invalid key: ${r}`);
  return r;
}

/**
 * Parses a key file: one base64 key per line, the first is the primary; blank lines and lines
 * starting with # are ignored (LF or CRLF, surrounding whitespace and a UTF-8 BOM tolerated). A file
 * with no key, a bad line, a repeated key or two keys with the same key id is an ERR_INVALID_OPTION
 * naming the line. `source` names the file in messages.
 */
export function parseKeyFile(text: string, source = 'key file'): Uint8Array[] {
  const keys: Uint8Array[] = [];
  const seen = new Map<number, { line: number; key: Uint8Array }>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const n = i + 1;
    const r = decode(line);
    if (typeof r === 'string') throw new GrapevineError('ERR_INVALID_OPTION', `${source}, line ${n}: ${r}`);
    const id = keyId(r);
    const prior = seen.get(id);
    if (prior) {
      const same = Buffer.compare(prior.key, r) === 0;
      throw new GrapevineError(
        'ERR_INVALID_OPTION',
        same
          ? `${source}, line ${n}: the same key as line ${prior.line}`
          : `${source}, line ${n}: key id collides with the key on line ${prior.line}; generate another key`,
      );
    }
    seen.set(id, { line: n, key: r });
    keys.push(r);
  }
  if (keys.length === 0) throw new GrapevineError('ERR_INVALID_OPTION', `${source}: contains no key`);
  return keys;
}

function keysOf(path: string, file: SmallFile, opts: LoadKeyFileOptions): Uint8Array[] {
  const keys = parseKeyFile(file.text, `key file ${path}`);
  if (exposedMode(file.mode)) opts.warn?.(`key file ${path} is readable by group or others (mode ${formatMode(file.mode)}); chmod 600 it`);
  return keys;
}

const KEY_FILE = { maxBytes: MAX_KEY_FILE_BYTES, what: 'key file' };

/**
 * Reads and parses a key file (see parseKeyFile). Refused with ERR_INVALID_OPTION, before reading
 * anything, unless it is a regular file of at most MAX_KEY_FILE_BYTES (a FIFO, a device or a
 * directory never blocks or floods the caller).
 */
export async function loadKeyFile(path: string, opts: LoadKeyFileOptions = {}): Promise<Uint8Array[]> {
  return keysOf(path, await readSmallFile(path, KEY_FILE), opts);
}

/** loadKeyFile, synchronously (for start-up code that cannot await). */
export function loadKeyFileSync(path: string, opts: LoadKeyFileOptions = {}): Uint8Array[] {
  return keysOf(path, readSmallFileSync(path, KEY_FILE), opts);
}
