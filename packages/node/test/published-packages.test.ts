/**
 * Every published package (not "private") ships what a library user expects: the root LICENSE
 * (identical copy) and a README headed with the package's name, both listed in "files", and
 * license MIT. (repository/homepage/bugs are left out until the project has a public home.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const license = readFileSync(`${root}LICENSE`, 'utf8');

describe('published packages', () => {
  const published = readdirSync(`${root}packages`)
    .filter((d) => existsSync(`${root}packages/${d}/package.json`))
    .map((d) => ({ dir: d, pkg: JSON.parse(readFileSync(`${root}packages/${d}/package.json`, 'utf8')) as { name: string; private?: boolean; license: string; files: string[] } }))
    .filter((p) => p.pkg.private !== true);

  it('the root LICENSE is MIT, by the Grapevine authors', () => {
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the Grapevine authors\n/);
  });

  it('each has the LICENSE and a README, listed in files, and says MIT', () => {
    expect(published.length).toBeGreaterThanOrEqual(10);
    for (const { dir, pkg } of published) {
      expect(readFileSync(`${root}packages/${dir}/LICENSE`, 'utf8'), dir).toBe(license);
      expect(readFileSync(`${root}packages/${dir}/README.md`, 'utf8'), dir).toMatch(new RegExp(`^# ${pkg.name.replace('/', '\\/')}\\n`));
      expect(pkg.files, dir).toEqual(expect.arrayContaining(['dist', 'README.md', 'LICENSE']));
      expect(pkg.license, dir).toBe('MIT');
    }
  });
});
