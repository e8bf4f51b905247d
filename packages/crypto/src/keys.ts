import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { randomFillSync } from 'node:crypto';
import { GrapevineError } from '@grapevine/core';
import { KEY_LENGTH } from './ciphers.js';
import { keyId } from './keyring.js';

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

function unreadable(path: string, err: unknown): GrapevineError {
  const code = (err as { code?: unknown } | null)?.code;
  const why = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
  return new GrapevineError('ERR_INVALID_OPTION', `cannot read key file ${path}: ${why}`, { cause: err });
}

/** Reads and parses a key file (see parseKeyFile). */
export async function loadKeyFile(path: string): Promise<Uint8Array[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw unreadable(path, err);
  }
  return parseKeyFile(text, `key file ${path}`);
}

/** loadKeyFile, synchronously (for start-up code that cannot await). */
export function loadKeyFileSync(path: string): Uint8Array[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw unreadable(path, err);
  }
  return parseKeyFile(text, `key file ${path}`);
}
