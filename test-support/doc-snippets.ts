/**
 * Runs the code snippets of README.md and docs/ as real programs, so a documented usage that
 * crashes a process fails a test. A snippet is a fragment: it names a cluster, a peer, a `cache` it
 * never defines, files it expects to exist, fixed ports. `completeSnippet` turns one into a
 * program for one of two nodes:
 * - the snippet's own text is kept; only the substitutions a spec lists are made (its fixed
 *   addresses become 127.0.0.1 port 0 and the harness's seeds, its node names the harness's, long
 *   timeouts short ones), and each must apply, so a snippet that changes fails here instead of
 *   being skipped;
 * - a prelude supplies what the snippet takes for granted (imports, `cache`, `db`, `fs`,
 *   `pipeline`) and the program runs in a temporary directory holding the files it reads;
 * - lines that register handlers (`cluster.handle...(`) run first, then the node waits for its peer
 *   and for the harness's go, as an application registers its handlers at start before anyone
 *   calls it;
 * - afterwards the program prints `{"done":true}` and waits for a command on stdin: `leave` runs the
 *   snippet's own leave (or `cluster.leave()`) and the process must then exit 0 by itself.
 * The child prints one JSON line per harness event on stdout; anything the snippet prints is
 * passed through.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../', import.meta.url));
/** The built library, as a user's `import ... from '@grapevine/node'` gets it. */
const LIBRARY = pathToFileURL(`${root}packages/node/dist/index.js`).href;

/** The fenced code blocks of `lang` (e.g. "ts", "js") in a markdown file of the repository, in order. */
export function codeBlocks(file: string, lang: string): string[] {
  const text = readFileSync(`${root}${file}`, 'utf8');
  const out: string[] = [];
  const re = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm');
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1]!);
  return out;
}

export interface SnippetSpec {
  /** The snippet's code (one block, or several blocks of one program joined). */
  code: string;
  /** [what the snippet says, what the harness runs instead]; every one must occur. */
  replace: [string, string][];
  /** A statement of the snippet that leaves the cluster: held back until the harness says `leave`. */
  leave?: string;
}

const PRELUDE = `
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createInterface as __lines } from 'node:readline';
const NAME = process.env.SNIPPET_NAME;
const PEER = process.env.SNIPPET_PEER;
const SEEDS = JSON.parse(process.env.SNIPPET_SEEDS ?? '[]');
const WATCH_MS = 1500;
const cache = new Map([['k', 'cached value'], ['user:42', { name: 'Ada' }]]);
const db = cache;
const __say = (o) => process.stdout.write(JSON.stringify({ harness: o }) + '\\n');
const __stdin = __lines({ input: process.stdin });
const __commands = [];
let __wake = () => {};
__stdin.on('line', (l) => { __commands.push(l.trim()); __wake(); });
const __next = async () => { while (__commands.length === 0) await new Promise((r) => (__wake = r)); return __commands.shift(); };
`;

/**
 * The program for one node. Throws when a substitution does not apply or when the snippet has no
 * `createCluster` / handler lines where the harness expects them.
 */
export function completeSnippet(spec: SnippetSpec): string {
  let code = spec.code;
  for (const [from, to] of spec.replace) {
    if (!code.includes(from)) throw new Error(`snippet no longer contains ${JSON.stringify(from)}: update the harness spec`);
    code = code.split(from).join(to);
  }
  let leave = 'await cluster.leave();';
  if (spec.leave !== undefined) {
    if (!code.includes(spec.leave)) throw new Error(`snippet no longer contains ${JSON.stringify(spec.leave)}`);
    code = code.replace(spec.leave, '');
    leave = spec.leave;
  }
  // Imports move to the top (the prelude has the usual ones; the library comes from dist/).
  const imports: string[] = [];
  const body: string[] = [];
  for (const line of code.split('\n')) {
    if (/^import .* from '@grapevine\/node';$/.test(line)) imports.push(line.replace("'@grapevine/node'", `'${LIBRARY}'`));
    else if (/^import /.test(line)) imports.push(line);
    else body.push(line);
  }
  if (!imports.some((l) => l.includes(LIBRARY))) imports.push(`import { createCluster } from '${LIBRARY}';`);
  // Split at the cluster's creation: everything up to the end of that statement runs first.
  const created = body.findIndex((l) => /createCluster\(/.test(l));
  if (created < 0) throw new Error('snippet creates no cluster');
  let end = created;
  while (end < body.length && !/\);\s*(\/\/.*)?$/.test(body[end]!)) end++;
  // Constants the handlers use (message types) go with the setup.
  const isConstant = (l: string): boolean => /^const [A-Z][A-Z_0-9]* = /.test(l);
  const isHandler = (l: string): boolean => /^cluster\.handle\w*\(/.test(l);
  const setup = [...body.slice(0, end + 1), ...body.slice(end + 1).filter(isConstant)];
  const rest = body.slice(end + 1).filter((l) => !isConstant(l));
  const handlers = rest.filter(isHandler);
  if (handlers.length === 0) throw new Error('snippet registers no handler');
  for (const h of handlers) if (!/\);\s*(\/\/.*)?$/.test(h)) throw new Error(`handler line is not one statement: ${h}`);
  const main = rest.filter((l) => !isHandler(l));
  const program = [
    ...imports,
    PRELUDE,
    ...setup,
    `__say({ up: cluster.localNode.address });`,
    ...handlers,
    `cluster.on('left', (e) => __say({ left: e.member.name }));`,
    `cluster.on('dead', (e) => __say({ dead: e.member.name }));`,
    `while (!cluster.members({ state: 'alive' }).some((m) => m.name === PEER)) await new Promise((r) => setTimeout(r, 50));`,
    `__say({ barrier: true });`,
    `await __next();`,
    ...main,
    `__say({ done: true });`,
    `for (;;) { const c = await __next(); if (c === 'leave') break; }`,
    leave,
    `__stdin.close();`,
    `__say({ left_cluster: true });`,
  ].join('\n');
  return ts.transpileModule(program, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
}

export interface HarnessEvent {
  up?: string;
  barrier?: boolean;
  done?: boolean;
  left?: string;
  dead?: string;
  left_cluster?: boolean;
}

/** One snippet program running as a child process. */
export class SnippetNode {
  readonly events: HarnessEvent[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly proc: ChildProcess;
  private readonly waiters = new Set<() => void>();

  constructor(readonly name: string, programFile: string, cwd: string, env: { peer: string; seeds: string[] }) {
    this.proc = spawn(process.execPath, [programFile], {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, SNIPPET_NAME: name, SNIPPET_PEER: env.peer, SNIPPET_SEEDS: JSON.stringify(env.seeds) },
    });
    this.proc.stdin!.on('error', () => undefined);
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      this.stdout += `${line}\n`;
      if (line.startsWith('{"harness":')) this.events.push((JSON.parse(line) as { harness: HarnessEvent }).harness);
      this.poke();
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.poke();
    });
    this.exited = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => {
        resolve({ code, signal });
        this.poke();
      }),
    );
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  send(command: string): void {
    this.proc.stdin!.write(`${command}\n`);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.proc.kill(signal);
  }

  /** Wait for an event; fails early (with the child's stderr) if the process exits first. */
  until(check: (e: HarnessEvent) => boolean, what: string, ms = 30_000): Promise<HarnessEvent> {
    return new Promise((resolve, reject) => {
      const test = (): void => {
        const hit = this.events.find(check);
        if (hit) {
          done();
          resolve(hit);
        } else if (!this.running) {
          done();
          reject(new Error(`${this.name} exited (code ${this.proc.exitCode}, signal ${this.proc.signalCode}) before ${what}; stderr: ${this.stderr.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: timed out waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`));
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(test);
      };
      this.waiters.add(test);
      test();
    });
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }
}
