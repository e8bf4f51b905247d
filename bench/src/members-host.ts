/**
 * A child process that holds the members a bench joins to an agent, so the bench's own process
 * does nothing but measure. (With 99 clusters in the measuring process, their probes, gossip and
 * garbage collection delay the bench's own reads, and a client-side latency then includes them.)
 *
 *   node bench/dist/members-host.js --seed HOST:PORT --count N [--prefix n] [--profile lan]
 *
 * Starts N clusters on 127.0.0.1 port 0 seeded at --seed (names PREFIX1..PREFIXN), prints one line
 * `{"ready":N}` on stdout when they are all started, and closes them all and exits when its stdin
 * ends (the parent exited or closed it) or on SIGTERM. `startMembersHost()` is the parent's side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Cluster, ProfileName } from '@grapevine/core';

export interface MembersHost {
  readonly child: ChildProcess;
  close(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);

/** Starts the host and resolves once its `count` members are started (not yet all joined). */
export function startMembersHost(seed: string, count: number, profile: ProfileName, prefix = 'n'): Promise<MembersHost> {
  const child = spawn(process.execPath, [SELF, '--seed', seed, '--count', String(count), '--prefix', prefix, '--profile', profile], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    child.stdin!.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`members host exited (${code}) before its members started`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (/^\{"ready":\d+\}$/.test(line)) resolve({ child, close });
    });
  });
}

async function main(): Promise<void> {
  const arg = (name: string): string => {
    const i = process.argv.indexOf(name);
    if (i < 0 || process.argv[i + 1] === undefined) throw new Error(`members-host: ${name} is required`);
    return process.argv[i + 1]!;
  };
  const { createCluster } = await import('@grapevine/node');
  const seed = arg('--seed');
  const count = Number(arg('--count'));
  const prefix = arg('--prefix');
  const profile = arg('--profile') as ProfileName;
  const nodes: Cluster[] = [];
  let closing = false;
  const shutdown = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await Promise.allSettled(nodes.map((n) => n.close()));
    process.exit(0);
  };
  process.stdin.on('end', () => void shutdown());
  process.stdin.resume();
  process.on('SIGTERM', () => void shutdown());
  for (let i = 1; i <= count && !closing; i++) nodes.push(await createCluster({ name: `${prefix}${i}`, bind: '127.0.0.1:0', profile, seeds: [seed] }));
  process.stdout.write(`${JSON.stringify({ ready: nodes.length })}\n`);
}

if (process.argv[1] === SELF) await main();
