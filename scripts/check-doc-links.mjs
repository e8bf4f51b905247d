#!/usr/bin/env node
/**
 * Broken-link check for the docs, run by `pnpm run docs` (and so by CI): every relative link in the
 * generated API reference (docs/api, TypeDoc's HTML) and in the repository's markdown (README.md,
 * docs/, bench/, every package's and example's README) must point at a file that exists. TypeDoc
 * itself rejects broken {@link} references (validation.invalidLink in typedoc.json). External
 * URLs are not fetched: CI has no business depending on other sites being up.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const api = join(root, 'docs', 'api');
const broken = [];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** A link target worth checking: relative, not an anchor, a URL with a scheme, or protocol-relative. */
function localTarget(href) {
  if (href === '' || href.startsWith('#') || href.startsWith('//') || /^[a-z][a-z0-9+.-]*:/i.test(href)) return undefined;
  return decodeURIComponent(href.replace(/[#?].*$/, ''));
}

function check(file, href) {
  const target = localTarget(href);
  if (target === undefined || target === '') return;
  const path = resolve(dirname(file), target);
  if (!existsSync(path)) broken.push(`${relative(root, file)}: ${href}`);
}

if (!existsSync(join(api, 'index.html'))) {
  process.stderr.write('check-doc-links: docs/api/index.html is missing: run typedoc first (pnpm run docs)\n');
  process.exit(1);
}
let htmlLinks = 0;
for (const file of walk(api).filter((f) => f.endsWith('.html'))) {
  for (const m of readFileSync(file, 'utf8').matchAll(/\b(?:href|src)="([^"]*)"/g)) {
    htmlLinks++;
    check(file, m[1]);
  }
}

const markdown = [join(root, 'README.md'), join(root, 'CHANGELOG.md'), join(root, 'bench', 'README.md')];
for (const dir of ['docs']) for (const f of readdirSync(join(root, dir))) if (f.endsWith('.md')) markdown.push(join(root, dir, f));
for (const dir of ['packages', 'examples']) {
  for (const d of readdirSync(join(root, dir))) if (existsSync(join(root, dir, d, 'README.md'))) markdown.push(join(root, dir, d, 'README.md'));
}
let mdLinks = 0;
for (const file of markdown) {
  // Links outside fenced code blocks: [text](target) and [text](target "title").
  const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    mdLinks++;
    check(file, m[1]);
  }
}

if (broken.length > 0) {
  process.stderr.write(`check-doc-links: ${broken.length} broken link(s):\n${broken.map((b) => `  ${b}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`check-doc-links: ${htmlLinks} links in docs/api and ${mdLinks} in ${markdown.length} markdown files, none broken\n`);
