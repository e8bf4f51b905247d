import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { GrapevineError } from '@grapevine/core';
import { Keyring, MAX_KEY_FILE_BYTES, decodeKey, encodeKey, generateKey, keyId, loadKeyFile, loadKeyFileSync, parseKeyFile } from '@grapevine/crypto';

function errorOf(fn: () => unknown): GrapevineError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GrapevineError);
    expect((err as GrapevineError).code).toBe('ERR_INVALID_OPTION');
    return err as GrapevineError;
  }
  throw new Error('expected an error');
}

async function errorOfAsync(fn: () => Promise<unknown>): Promise<GrapevineError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GrapevineError);
    expect((err as GrapevineError).code).toBe('ERR_INVALID_OPTION');
    return err as GrapevineError;
  }
  throw new Error('expected an error');
}

/** n keys with pairwise distinct ids. */
function distinctKeys(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  while (out.length < n) {
    const k = generateKey();
    if (!out.some((o) => keyId(o) === keyId(k))) out.push(k);
  }
  return out;
}

const same = (a: Uint8Array[], b: Uint8Array[]): boolean => a.length === b.length && a.every((k, i) => Buffer.compare(k, b[i]!) === 0);

describe('generateKey / encodeKey / decodeKey', () => {
  it('generates distinct 32-byte keys', () => {
    const a = generateKey();
    const b = generateKey();
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a.length).toBe(32);
    expect(Buffer.compare(a, b)).not.toBe(0);
  });

  it('round-trips through standard padded base64 (44 characters)', () => {
    for (let i = 0; i < 50; i++) {
      const k = generateKey();
      const text = encodeKey(k);
      expect(text).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.compare(decodeKey(text), k)).toBe(0);
      expect(Buffer.compare(decodeKey(`  ${text}\r\n`), k)).toBe(0);
    }
  });

  it('refuses bad base64, wrong lengths and non-canonical encodings with clear messages', () => {
    const good = encodeKey(generateKey());
    expect(errorOf(() => decodeKey('')).message).toMatch(/empty/);
    expect(errorOf(() => decodeKey('   ')).message).toMatch(/empty/);
    expect(errorOf(() => decodeKey(good.slice(0, 43) + '!')).message).toMatch(/not valid base64/);
    expect(errorOf(() => decodeKey(good.replace(/=$/, ''))).message).toMatch(/not valid base64/); // unpadded
    expect(errorOf(() => decodeKey(good.slice(0, 20) + ' ' + good.slice(20))).message).toMatch(/not valid base64/);
    expect(errorOf(() => decodeKey(good.replace(/\+/g, '-').replace(/\//g, '_') + 'x')).message).toMatch(/not valid base64/);
    expect(errorOf(() => decodeKey(Buffer.alloc(16).toString('base64'))).message).toMatch(/32 bytes, this one decodes to 16/);
    expect(errorOf(() => decodeKey(Buffer.alloc(33).toString('base64'))).message).toMatch(/decodes to 33/);
    // Same bytes, but the unused low bits of the last character are set: not the canonical form.
    const lastChar = good[42]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const tweaked = good.slice(0, 42) + alphabet[alphabet.indexOf(lastChar) ^ 1] + '=';
    expect(errorOf(() => decodeKey(tweaked)).message).toMatch(/non-canonical/);
    expect(errorOf(() => decodeKey(42 as unknown as string)).message).toMatch(/base64 string/);
    expect(errorOf(() => encodeKey(new Uint8Array(3))).message).toMatch(/32 bytes/);
  });

  it('never echoes the key text in an error', () => {
    const bad = encodeKey(generateKey()).slice(0, 40) + '@@@@';
    expect(errorOf(() => decodeKey(bad)).message).not.toContain(bad.slice(0, 10));
    expect(errorOf(() => parseKeyFile(bad)).message).not.toContain(bad.slice(0, 10));
  });
});

describe('parseKeyFile', () => {
  const [a, b, c] = distinctKeys(3) as [Uint8Array, Uint8Array, Uint8Array];
  const [ea, eb, ec] = [a, b, c].map(encodeKey) as [string, string, string];

  it('reads one key per line; the first is the primary', () => {
    const keys = parseKeyFile(`${ea}\n${eb}\n${ec}\n`);
    expect(same(keys, [a, b, c])).toBe(true);
    expect(new Keyring(keys).primary.id).toBe(keyId(a));
  });

  it('ignores comments, blank lines, surrounding spaces, CRLF, a missing final newline and a BOM', () => {
    const text = `\uFEFF# cluster keys\r\n\r\n   ${ea}   \r\n\t# old key, remove after rotation\r\n${eb}\t\r\n\n  \n${ec}`;
    expect(same(parseKeyFile(text), [a, b, c])).toBe(true);
    expect(same(parseKeyFile(`${ea}\r${eb}`), [a, b])).toBe(true); // old Mac line ends
    expect(same(parseKeyFile(ea), [a])).toBe(true);
  });

  it('an empty file, or one with only comments, is an error', () => {
    expect(errorOf(() => parseKeyFile('')).message).toMatch(/contains no key/);
    expect(errorOf(() => parseKeyFile('\n\n  \r\n')).message).toMatch(/contains no key/);
    expect(errorOf(() => parseKeyFile('# nothing here\n#' + ea + '\n')).message).toMatch(/contains no key/);
  });

  it('names the line of a bad key', () => {
    expect(errorOf(() => parseKeyFile(`# keys\n${ea}\nnot-a-key\n${eb}`)).message).toMatch(/line 3: not valid base64/);
    expect(errorOf(() => parseKeyFile(`${ea}\r\n\r\n${Buffer.alloc(24).toString('base64')}\r\n`)).message).toMatch(
      /line 3: a key must be 32 bytes, this one decodes to 24/,
    );
    expect(errorOf(() => parseKeyFile(`${ea} # primary`)).message).toMatch(/line 1: not valid base64/);
    expect(errorOf(() => parseKeyFile(`${ea}${eb}`)).message).toMatch(/line 1:/);
    expect(errorOf(() => parseKeyFile(`${ea}\n${ea.slice(0, 43)}`)).message).toMatch(/line 2:/);
  });

  it('refuses a repeated key and two keys with the same id, naming both lines', () => {
    expect(errorOf(() => parseKeyFile(`${ea}\n${eb}\n\n${ea}\n`)).message).toMatch(/line 4: the same key as line 1/);
    const twin = (() => {
      for (;;) {
        const k = generateKey();
        if (keyId(k) === keyId(b)) return k;
      }
    })();
    expect(errorOf(() => parseKeyFile(`${ea}\n${eb}\n${encodeKey(twin)}`)).message).toMatch(
      /line 3: key id collides with the key on line 2; generate another key/,
    );
  });

  it('names the source in its messages', () => {
    expect(errorOf(() => parseKeyFile('x', 'keys.txt')).message).toBe('keys.txt, line 1: not valid base64 (expected standard, padded base64)');
  });
});

describe('loadKeyFile', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'grapevine-keys-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads and parses a key file (async and sync)', async () => {
    const keys = distinctKeys(2);
    const path = join(dir, 'good.keys');
    writeFileSync(path, `# test\n${keys.map(encodeKey).join('\n')}\n`, { mode: 0o600 });
    expect(same(await loadKeyFile(path), keys)).toBe(true);
    expect(same(loadKeyFileSync(path), keys)).toBe(true);
  });

  it('a missing or unreadable file is a clear error', async () => {
    const missing = join(dir, 'nope.keys');
    expect((await errorOfAsync(() => loadKeyFile(missing))).message).toBe(`cannot read key file ${missing}: ENOENT`);
    expect(errorOf(() => loadKeyFileSync(missing)).message).toBe(`cannot read key file ${missing}: ENOENT`);
    expect((await errorOfAsync(() => loadKeyFile(dir))).message).toBe(`key file ${dir}: not a regular file (a directory)`);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked.keys');
      writeFileSync(locked, encodeKey(generateKey()));
      chmodSync(locked, 0o000);
      expect((await errorOfAsync(() => loadKeyFile(locked))).message).toMatch(/EACCES/);
    }
  });

  it('refuses a device, a FIFO, a directory and an oversized file before reading them (sync and async)', async () => {
    const fifo = join(dir, 'fifo.keys');
    execFileSync('mkfifo', [fifo]);
    const big = join(dir, 'big.keys');
    writeFileSync(big, `${encodeKey(generateKey())}\n${'#'.repeat(MAX_KEY_FILE_BYTES)}\n`, { mode: 0o600 });
    const cases: [string, string][] = [
      ['/dev/zero', 'not a regular file (a character device)'],
      [fifo, 'not a regular file (a FIFO)'],
      [dir, 'not a regular file (a directory)'],
      [big, `larger than ${MAX_KEY_FILE_BYTES} bytes`],
    ];
    for (const [path, why] of cases) {
      expect(errorOf(() => loadKeyFileSync(path)).message).toBe(`key file ${path}: ${why}`);
      expect((await errorOfAsync(() => loadKeyFile(path))).message).toBe(`key file ${path}: ${why}`);
    }
  });

  it('warns (through the warn option) when group or others may read the file', async () => {
    const path = join(dir, 'open.keys');
    writeFileSync(path, `${encodeKey(generateKey())}\n`);
    chmodSync(path, 0o644);
    const warnings: string[] = [];
    loadKeyFileSync(path, { warn: (m) => warnings.push(m) });
    await loadKeyFile(path, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([0, 1].map(() => `key file ${path} is readable by group or others (mode 0644); chmod 600 it`));
    chmodSync(path, 0o600);
    loadKeyFileSync(path, { warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(2);
  });

  it('a bad file names the file and the line', async () => {
    const path = join(dir, 'bad.keys');
    writeFileSync(path, `${encodeKey(generateKey())}\n\nbogus\n`);
    expect((await errorOfAsync(() => loadKeyFile(path))).message).toBe(`key file ${path}, line 3: not valid base64 (expected standard, padded base64)`);
    const empty = join(dir, 'empty.keys');
    writeFileSync(empty, '');
    expect((await errorOfAsync(() => loadKeyFile(empty))).message).toBe(`key file ${empty}: contains no key`);
  });
});
