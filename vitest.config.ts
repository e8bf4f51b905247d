import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { readdirSync, existsSync } from 'node:fs';

// Tests import workspace packages from their TypeScript sources, so a test never runs against a
// stale dist/. (Multi-process tests spawn the built CLI; `pnpm test` builds first.)
const root = fileURLToPath(new URL('.', import.meta.url));
const alias: Record<string, string> = {};
for (const dir of readdirSync(`${root}packages`)) {
  const src = `${root}packages/${dir}/src/index.ts`;
  if (!existsSync(src)) continue;
  const name = `@grapevine/${dir}`;
  alias[name] = src;
}

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
