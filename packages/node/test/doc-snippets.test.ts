/**
 * The code snippets of README.md ("Use it" and "Messages between nodes", run together as one
 * program) and the opening snippet of docs/messaging.md, run as two real processes over 127.0.0.1
 * (test-support/doc-snippets.ts completes them). Each node runs the whole snippet against the
 * other: broadcasts, direct sends, a request, and a file streamed with
 * `pipeline(createReadStream(...), await cluster.openStream(...))` to a handler that does
 * `stream.pipe(createWriteStream(...))`. Afterwards one node leaves (gracefully, or is killed) and
 * the other must keep running and exit 0 when it leaves in turn: a stream left half-open used to
 * crash the survivor with an unhandled 'error' (ERR_UNREACHABLE) the moment its peer left.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codeBlocks, completeSnippet, SnippetNode, type SnippetSpec } from '../../../test-support/doc-snippets.js';

let dir = '';
const running: SnippetNode[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gv-snippets-'));
});
afterEach(async () => {
  for (const n of running) n.kill('SIGKILL');
  await Promise.all(running.map((n) => n.exited));
  running.length = 0;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readmeSpec(): SnippetSpec {
  const blocks = codeBlocks('README.md', 'ts');
  const use = blocks.find((b) => b.includes('createCluster('));
  const messages = blocks.find((b) => b.includes('openStream('));
  expect(use, 'README has a ```ts block creating a cluster').toBeDefined();
  expect(messages, 'README has a ```ts block opening a stream').toBeDefined();
  return {
    code: `${use}\n${messages}`,
    replace: [
      ["name: 'web-1'", 'name: NAME'],
      ["bind: '0.0.0.0:7946'", "bind: '127.0.0.1:0'"],
      ["seeds: ['10.0.0.5:7946']", 'seeds: SEEDS'],
      ['AbortSignal.timeout(60_000)', 'AbortSignal.timeout(WATCH_MS)'],
      ["'web-2'", 'PEER'],
    ],
    leave: 'await cluster.leave();',
  };
}

function messagingSpec(): SnippetSpec {
  const block = codeBlocks('docs/messaging.md', 'js')[0];
  expect(block).toContain('openStream(');
  return {
    code: block!,
    replace: [
      ["name: 'a'", 'name: NAME'],
      ["bind: '127.0.0.1:7946'", "bind: '127.0.0.1:0'"],
      ["join: '127.0.0.1:7947'", 'join: SEEDS'],
      ["cluster.request('b'", 'cluster.request(PEER'],
      // Both nodes run the snippet, so each receives into a file of its own, not over the one it sends.
      ["cluster.openStream('b', FILE, { name: 'dump.bin' })", "cluster.openStream(PEER, FILE, { name: 'received.bin' })"],
    ],
  };
}

interface Pair {
  first: SnippetNode;
  second: SnippetNode;
  cwd: (n: SnippetNode) => string;
}

/** Both nodes up, joined, through the snippet, each with a file (`input`) the snippet streams. */
async function startPair(tag: string, spec: SnippetSpec, names: [string, string], input: string, output: string): Promise<Pair & { sent: Map<string, Buffer> }> {
  const program = join(dir, `${tag}.mjs`);
  writeFileSync(program, completeSnippet(spec));
  const sent = new Map<string, Buffer>();
  const dirs = new Map<string, string>();
  for (const name of names) {
    const cwd = join(dir, `${tag}-${name}`);
    mkdirSync(cwd);
    const data = randomBytes(3 * 1024 * 1024 + 123);
    writeFileSync(join(cwd, input), data);
    sent.set(name, data);
    dirs.set(name, cwd);
  }
  const first = new SnippetNode(names[0], program, dirs.get(names[0])!, { peer: names[1], seeds: [] });
  running.push(first);
  const addr = (await first.until((e) => e.up !== undefined, 'its address')).up!;
  const second = new SnippetNode(names[1], program, dirs.get(names[1])!, { peer: names[0], seeds: [addr] });
  running.push(second);
  await Promise.all([first, second].map((n) => n.until((e) => e.barrier === true, 'the peer to be alive')));
  for (const n of [first, second]) n.send('go');
  await Promise.all([first, second].map((n) => n.until((e) => e.done === true, 'the snippet to finish')));
  // The streamed file arrived whole on each side.
  const cwd = (n: SnippetNode): string => dirs.get(n.name)!;
  for (const [n, peer] of [[first, second], [second, first]] as const) {
    const path = join(cwd(n), output);
    await waitFor(() => safeSize(path) === sent.get(peer.name)!.length, `${n.name} to have the whole ${output}`);
    expect(readFileSync(path).equals(sent.get(peer.name)!)).toBe(true);
  }
  return { first, second, cwd, sent };
}

function safeSize(path: string): number {
  try {
    return readFileSync(path).length;
  } catch {
    return -1;
  }
}

async function waitFor(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `goner` leaves (or is killed); `survivor` sees it, keeps running, then leaves and exits 0. */
async function leaveAndSurvive(goner: SnippetNode, survivor: SnippetNode, how: 'leave' | 'kill'): Promise<void> {
  if (how === 'leave') {
    goner.send('leave');
    expect(await goner.exited, goner.stderr).toEqual({ code: 0, signal: null });
    await survivor.until((e) => e.left === goner.name, `${goner.name} to be seen leaving`);
  } else {
    goner.kill('SIGKILL');
    await survivor.until((e) => e.dead === goner.name, `${goner.name} to be declared dead`, 45_000);
  }
  // A crash from a stream to the departed peer happens as the departure is processed; give any
  // deferred 'error' a moment to surface, then require the process to be alive and well.
  await new Promise((r) => setTimeout(r, 1000));
  expect(survivor.running, `${survivor.name} died after ${goner.name} went: ${survivor.stderr}`).toBe(true);
  survivor.send('leave');
  expect(await survivor.exited, survivor.stderr).toEqual({ code: 0, signal: null });
  expect(survivor.stderr).not.toMatch(/ERR_UNREACHABLE|Unhandled|Error/);
}

describe('README snippets as two processes', () => {
  it('run both ways (each node is both opener and receiver); one leaves gracefully, the other keeps running, then leaves', async () => {
    const { first, second } = await startPair('readme-a', readmeSpec(), ['web-1', 'web-2'], 'big.bin', 'copy.bin');
    // What the snippet itself prints: the members, and the broadcast and direct send it received.
    expect(first.stdout).toMatch(/\[ 'web-[12]', 'web-[12]' \]/);
    expect(first.stdout).toMatch(/^web-2 \{ sku: 'a1'/m);
    await leaveAndSurvive(first, second, 'leave');
  }, 120_000);

  it('a node killed after the snippet is declared dead; the other keeps running', async () => {
    const { first, second } = await startPair('readme-c', readmeSpec(), ['web-1', 'web-2'], 'big.bin', 'copy.bin');
    await leaveAndSurvive(first, second, 'kill');
  }, 120_000);
});

describe('docs/messaging.md opening snippet as two processes', () => {
  it('runs both ways; one node leaves and the other keeps running, then leaves', async () => {
    const { first, second } = await startPair('messaging', messagingSpec(), ['a', 'b'], 'dump.bin', 'received.bin');
    await leaveAndSurvive(first, second, 'leave');
  }, 120_000);
});
