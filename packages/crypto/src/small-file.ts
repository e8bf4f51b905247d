/**
 * Reading a small file an operator names (a key file, a token, a certificate, a config) without
 * trusting what the path points at. `readFile` on `/dev/zero` reads until memory runs out, and on a
 * FIFO with no writer it blocks the process before it ever binds; so the file is opened with
 * O_NONBLOCK (a FIFO then opens at once), checked with fstat on the open descriptor (no race between
 * a check and the open), refused unless it is a regular file no larger than `maxBytes`, and read
 * for at most `maxBytes + 1` bytes (a file that grows while read is refused too).
 *
 * The result carries the file's permission bits, so a caller holding a secret can warn, as ssh
 * does, when group or others may read it.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { GrapevineError } from '@grapevine/core';

export interface SmallFile {
  text: string;
  /** The permission bits (mode & 0o777). */
  mode: number;
}

export interface SmallFileOptions {
  /** Largest accepted size in bytes. */
  maxBytes: number;
  /** How messages name the file, e.g. "key file". */
  what: string;
}

/** Group or other permission bits are set: anyone but the owner may read (or write) the file. */
export function exposedMode(mode: number): boolean {
  return (mode & 0o077) !== 0;
}

/** "0644". */
export function formatMode(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

const FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function check(st: Stats, path: string, o: SmallFileOptions): void {
  if (!st.isFile()) throw new GrapevineError('ERR_INVALID_OPTION', `${o.what} ${path}: not a regular file (${kind(st)})`);
  if (st.size > o.maxBytes) throw tooLarge(path, o);
}

function tooLarge(path: string, o: SmallFileOptions): GrapevineError {
  return new GrapevineError('ERR_INVALID_OPTION', `${o.what} ${path}: larger than ${o.maxBytes} bytes`);
}

function unreadable(path: string, o: SmallFileOptions, err: unknown): GrapevineError {
  const code = (err as { code?: unknown } | null)?.code;
  const why = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
  return new GrapevineError('ERR_INVALID_OPTION', `cannot read ${o.what} ${path}: ${why}`, { cause: err });
}

/** Read `path` as UTF-8 text under the rules above; every refusal is an ERR_INVALID_OPTION naming the file. */
export function readSmallFileSync(path: string, o: SmallFileOptions): SmallFile {
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (err) {
    throw unreadable(path, o, err);
  }
  try {
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch (err) {
      throw unreadable(path, o, err);
    }
    check(st, path, o);
    const buf = Buffer.alloc(o.maxBytes + 1);
    let got = 0;
    try {
      for (;;) {
        const n = readSync(fd, buf, got, buf.length - got, null);
        if (n === 0) break;
        got += n;
        if (got > o.maxBytes) throw tooLarge(path, o);
      }
    } catch (err) {
      if (err instanceof GrapevineError) throw err;
      throw unreadable(path, o, err);
    }
    return { text: buf.toString('utf8', 0, got), mode: st.mode & 0o777 };
  } finally {
    closeSync(fd);
  }
}

/** readSmallFileSync without blocking the event loop (for reloads in a running process). */
export async function readSmallFile(path: string, o: SmallFileOptions): Promise<SmallFile> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, FLAGS);
  } catch (err) {
    throw unreadable(path, o, err);
  }
  try {
    let st: Stats;
    try {
      st = await fh.stat();
    } catch (err) {
      throw unreadable(path, o, err);
    }
    check(st, path, o);
    const buf = Buffer.alloc(o.maxBytes + 1);
    let got = 0;
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, null);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (got > o.maxBytes) throw tooLarge(path, o);
      }
    } catch (err) {
      if (err instanceof GrapevineError) throw err;
      throw unreadable(path, o, err);
    }
    return { text: buf.toString('utf8', 0, got), mode: st.mode & 0o777 };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
