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
import { open, type FileHandle } from 'node:fs/promises';
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

/**
 * The reading rules, written once as a generator of file operations: the sync and async readers
 * below only differ in how they carry an operation out, so the checks cannot drift apart.
 */
type Step<H> =
  | { op: 'open' }
  | { op: 'stat'; h: H }
  | { op: 'read'; h: H; buf: Buffer; off: number }
  | { op: 'close'; h: H };

function* reading<H>(path: string, o: SmallFileOptions): Generator<Step<H>, SmallFile, unknown> {
  let h: H;
  try {
    h = (yield { op: 'open' }) as H;
  } catch (err) {
    throw unreadable(path, o, err);
  }
  try {
    let st: Stats;
    try {
      st = (yield { op: 'stat', h }) as Stats;
    } catch (err) {
      throw unreadable(path, o, err);
    }
    check(st, path, o);
    const buf = Buffer.alloc(o.maxBytes + 1);
    let got = 0;
    try {
      for (;;) {
        const n = (yield { op: 'read', h, buf, off: got }) as number;
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
    // A failed close loses nothing already read; it is not the caller's error.
    yield { op: 'close', h };
  }
}

function stepSync(path: string, s: Step<number>): unknown {
  switch (s.op) {
    case 'open': return openSync(path, FLAGS);
    case 'stat': return fstatSync(s.h);
    case 'read': return readSync(s.h, s.buf, s.off, s.buf.length - s.off, null);
    case 'close': try { closeSync(s.h); } catch { /* see reading() */ } return undefined;
  }
}

async function stepAsync(path: string, s: Step<FileHandle>): Promise<unknown> {
  switch (s.op) {
    case 'open': return open(path, FLAGS);
    case 'stat': return s.h.stat();
    case 'read': return (await s.h.read(s.buf, s.off, s.buf.length - s.off, null)).bytesRead;
    case 'close': return s.h.close().catch(() => undefined);
  }
}

/** Read `path` as UTF-8 text under the rules above; every refusal is an ERR_INVALID_OPTION naming the file. */
export function readSmallFileSync(path: string, o: SmallFileOptions): SmallFile {
  const gen = reading<number>(path, o);
  let r = gen.next();
  while (!r.done) {
    let value: unknown;
    try {
      value = stepSync(path, r.value);
    } catch (err) {
      r = gen.throw(err);
      continue;
    }
    r = gen.next(value);
  }
  return r.value;
}

/** readSmallFileSync without blocking the event loop (for reloads in a running process). */
export async function readSmallFile(path: string, o: SmallFileOptions): Promise<SmallFile> {
  const gen = reading<FileHandle>(path, o);
  let r = gen.next();
  while (!r.done) {
    let value: unknown;
    try {
      value = await stepAsync(path, r.value);
    } catch (err) {
      r = gen.throw(err);
      continue;
    }
    r = gen.next(value);
  }
  return r.value;
}
