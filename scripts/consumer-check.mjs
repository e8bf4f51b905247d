#!/usr/bin/env node
/**
 * Checks the packages as a library user gets them, not as the workspace sees them: packs every
 * published package (`pnpm pack`, so workspace: and catalog: ranges become versions), installs the
 * tarballs with npm into a scratch TypeScript project in a temp dir, type-checks the snippets of
 * README.md and of the package READMEs that stand alone with `strict`, `skipLibCheck: false` and `lib: ["es2022"]` (no DOM), then runs
 * the runnable snippet of packages/node/README.md (the block after `<!-- consumer-check: run -->`).
 *
 * It needs the packages built (`tsc -b`) and npm able to fetch typescript and @types/node (the
 * registry, or npm's cache: --prefer-offline). It takes about a minute, so .ci/run runs it as a
 * step of its own rather than inside the test suite. `--keep` leaves the temp dir for a look.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'grapevine-consumer-'));
const tarballs = join(work, 'tarballs');
const project = join(work, 'project');
mkdirSync(tarballs);
mkdirSync(project);

function run(cmd, args, cwd, opts = {}) {
  process.stdout.write(`consumer-check: ${cmd} ${args.join(' ')}\n`);
  return execFileSync(cmd, args, { cwd, stdio: opts.capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8', env: { ...process.env, ...opts.env } });
}

/** Fenced ```ts blocks of a markdown file, each with the line before its fence. */
function tsBlocks(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`${file}:${i + 1}: unterminated code block`);
    blocks.push({ before: (lines[i - 1] ?? '').trim() === '' ? (lines[i - 2] ?? '').trim() : (lines[i - 1] ?? '').trim(), line: i + 1, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

try {
  // 1. Pack every published package.
  const published = [];
  for (const dir of readdirSync(join(root, 'packages'))) {
    let pkg;
    try {
      pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    if (pkg.private) continue;
    published.push({ dir, name: pkg.name, version: pkg.version });
  }
  // One recursive pack (private packages are packed too, and simply not installed).
  run('npx', ['-y', 'pnpm@10', '-r', '--filter', './packages/*', 'pack', '--pack-destination', tarballs], root, { capture: true });

  // 2. A scratch project depending on the tarballs (and on each other through them).
  const files = readdirSync(tarballs);
  const deps = {};
  for (const p of published) {
    const file = files.find((f) => f === `${p.name.replace(/^@/, '').replace('/', '-')}-${p.version}.tgz`);
    if (file === undefined) throw new Error(`no tarball for ${p.name} in ${files.join(', ')}`);
    deps[p.name] = `file:${join(tarballs, file)}`;
  }
  const version = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify(
      {
        name: 'grapevine-consumer-check',
        private: true,
        type: 'module',
        dependencies: deps,
        // Every @grapevine/* dependency of a tarball resolves to the tarball, not to the registry.
        overrides: deps,
        devDependencies: { typescript: version('typescript'), '@types/node': version('@types/node') },
      },
      null,
      2,
    ),
  );
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], project);

  // 3. The snippets, as a user would paste them.
  const readme = tsBlocks(join(root, 'README.md'));
  if (readme.length === 0) throw new Error('README.md has no ts blocks');
  const preamble = [
    '// What the README snippets take as given: node built-ins and an application cache.',
    "import { createReadStream, createWriteStream } from 'node:fs';",
    "import { pipeline } from 'node:stream/promises';",
    'declare const cache: Map<string, string>;',
    '',
  ].join('\n');
  writeFileSync(join(project, 'readme.ts'), `${preamble}\n${readme.map((b) => `// README.md:${b.line}\n${b.code}`).join('\n\n')}\nexport {};\n`);
  // Package READMEs whose snippets stand alone (each README's blocks make one module).
  const checked = ['readme.ts', 'run.ts'];
  for (const dir of ['core', 'transport-memory', 'transport-udp', 'transport-tcp', 'codec-msgpack', 'compress-snappy', 'crypto']) {
    const blocks = tsBlocks(join(root, 'packages', dir, 'README.md'));
    if (blocks.length === 0) throw new Error(`packages/${dir}/README.md has no ts blocks`);
    writeFileSync(join(project, `readme-${dir}.ts`), `${blocks.map((b) => `// packages/${dir}/README.md:${b.line}\n${b.code}`).join('\n\n')}\nexport {};\n`);
    checked.push(`readme-${dir}.ts`);
  }
  const node = tsBlocks(join(root, 'packages', 'node', 'README.md'));
  const runnable = node.filter((b) => b.before === '<!-- consumer-check: run -->');
  if (runnable.length !== 1) throw new Error(`packages/node/README.md needs exactly one block after <!-- consumer-check: run -->, found ${runnable.length}`);
  writeFileSync(join(project, 'run.ts'), `${runnable[0].code}\nexport {};\n`);
  const compilerOptions = {
    strict: true,
    skipLibCheck: false,
    lib: ['es2022'],
    types: ['node'],
    target: 'es2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
  };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, noEmit: true }, files: checked }, null, 2));
  writeFileSync(join(project, 'tsconfig.run.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, outDir: 'out' }, files: ['run.ts'] }, null, 2));
  const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);

  // 4. Run the runnable one.
  run(process.execPath, [tsc, '-p', 'tsconfig.run.json'], project);
  const out = run(process.execPath, [join(project, 'out', 'run.js')], project, { capture: true, env: { GRAPEVINE_LOG_LEVEL: 'warn' } });
  process.stdout.write(out);
  if (!out.includes('reply: v1')) throw new Error(`the runnable snippet did not print "reply: v1"; it printed:\n${out}`);
  process.stdout.write(`consumer-check: ${published.length} packages packed, README snippets type-checked (strict, skipLibCheck false, lib es2022), runnable snippet ran\n`);
} finally {
  if (keep) process.stdout.write(`consumer-check: kept ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
}
