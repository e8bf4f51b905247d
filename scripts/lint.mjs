#!/usr/bin/env node
// Architectural lint: the rules DESIGN.md says must stay true, checked on every `pnpm lint`.
//  - packages/core imports nothing from node: and no other workspace package;
//  - the protocol (packages/core/src/protocol) never reads time or randomness directly;
//  - implementations depend on core's interfaces, never on each other.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const problems = [];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.ts$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const importRe = /(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
function imports(file) {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(importRe)].map((m) => m[1] ?? m[2]);
}

for (const file of walk(join(root, 'packages/core/src'))) {
  for (const spec of imports(file)) {
    if (spec.startsWith('node:') || spec.startsWith('@grapevine/')) {
      problems.push(`${relative(root, file)}: core must not import "${spec}"`);
    }
  }
}

for (const file of walk(join(root, 'packages/core/src/protocol'))) {
  const src = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  for (const banned of ['Date.now(', 'Math.random(', 'setTimeout(', 'setInterval(', 'performance.now(']) {
    if (src.includes(banned)) problems.push(`${relative(root, file)}: the protocol must not call ${banned}) (inject clock/random)`);
  }
}

// Every package but core, the batteries-included `@grapevine/node` package, the agent and the test kit is an implementation.
const implementations = readdirSync(join(root, 'packages')).filter((d) => !['core', 'node', 'agent', 'testkit'].includes(d) && existsSync(join(root, 'packages', d, 'src')));
for (const pkg of implementations) {
  const dir = join(root, 'packages', pkg, 'src');
  for (const file of walk(dir)) {
    for (const spec of imports(file)) {
      if (spec.startsWith('@grapevine/') && spec !== '@grapevine/core') {
        problems.push(`${relative(root, file)}: implementations depend on @grapevine/core only, not "${spec}"`);
      }
    }
  }
}

if (problems.length) {
  for (const p of problems) console.error(p);
  console.error(`lint: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('lint: ok');
