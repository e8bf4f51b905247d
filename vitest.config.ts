import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { readdirSync, existsSync } from 'node:fs';

// Tests import workspace packages from their TypeScript sources, so a test never runs against a
// stale dist/. (Multi-process tests spawn the built CLI; `pnpm test` builds first.)
const root = fileURLToPath(new URL('.', import.meta.url));
// Exact-match regexes, so a subpath such as `@grapevine/node/internal` maps to its own source file
// instead of being prefixed onto the package's index.
const alias: { find: RegExp; replacement: string }[] = [];
for (const dir of readdirSync(`${root}packages`)) {
  const src = `${root}packages/${dir}/src/index.ts`;
  if (!existsSync(src)) continue;
  alias.push({ find: new RegExp(`^@grapevine/${dir}$`), replacement: src });
}
alias.push({ find: /^@grapevine\/node\/internal$/, replacement: `${root}packages/node/src/internal.ts` });

export default defineConfig({
  resolve: { alias },
  // Don't let the TypeScript transform look up tsconfig files: that walks the solution-style root
  // tsconfig's references, and the resolver fails on nested relative references (bench/). The
  // transform only strips types; tsc -b type-checks.
  oxc: { tsconfig: false } as Record<string, unknown>,
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // createCluster logs warnings to stderr when given no logger (so a newcomer's unreachable seed
    // is never silent); tests that meet such warnings on purpose keep the run quiet with this.
    // Tests of the default logger itself set the level they need.
    env: { GRAPEVINE_LOG_LEVEL: 'silent' },
    reporters: ['default'],
  },
});
