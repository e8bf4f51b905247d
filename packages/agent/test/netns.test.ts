/**
 * Agents in separate Linux network namespaces, joined by a bridge the test creates: a real (if
 * virtual) network between hosts, not loopback. Checks TCP-only operation (join, a SIGKILLed agent
 * declared dead) and multicast discovery across the bridge. Only addresses in 10.213.0.0/16 are
 * used, only on the interfaces the test creates (the bridge itself gets no address, so nothing is
 * routed to or from the rest of the machine); everything is removed in afterAll. Needs root and a
 * working `ip netns`; otherwise the tests skip and say why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, agentFixture } from './cli-harness.js';

/** One subnet per run (10.213.ID.0/24) and names derived from it, so parallel runs do not collide. */
const ID = 10 + (process.pid % 240);
const NAMESPACES = [1, 2, 3].map((i) => `gvt${ID}n${i}`);
const BRIDGE = `gvt${ID}br`;
const hostEnd = (i: number): string => `gvt${ID}h${i}`;
const nsEnd = (i: number): string => `gvt${ID}v${i}`;
const ipOf = (i: number): string => `10.213.${ID}.${i}`;

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

function quietly(args: string[]): void {
  spawnSync('ip', args, { stdio: 'ignore', timeout: 10_000 });
}

/** Why the namespace tests cannot run here, or undefined when they can. */
function unavailable(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return `not running as root (uid ${String(process.getuid?.())})`;
  const probe = `gvt${ID}probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8', timeout: 10_000 });
  if (add.error !== undefined) return `cannot run ip: ${add.error.message}`;
  if (add.status !== 0) return `ip netns add failed: ${add.stderr.trim() || `exit ${String(add.status)}`}`;
  quietly(['netns', 'del', probe]);
  return undefined;
}

function teardown(): void {
  for (const ns of NAMESPACES) quietly(['netns', 'del', ns]);
  for (let i = 1; i <= NAMESPACES.length; i++) quietly(['link', 'del', hostEnd(i)]);
  quietly(['link', 'del', BRIDGE]);
}

function setup(): void {
  teardown(); // leftovers of an interrupted run with the same id
  ip(['link', 'add', BRIDGE, 'type', 'bridge']);
  ip(['link', 'set', BRIDGE, 'up']);
  NAMESPACES.forEach((ns, k) => {
    const i = k + 1;
    ip(['netns', 'add', ns]);
    ip(['link', 'add', hostEnd(i), 'type', 'veth', 'peer', 'name', nsEnd(i)]);
    ip(['link', 'set', nsEnd(i), 'netns', ns]);
    ip(['link', 'set', hostEnd(i), 'master', BRIDGE, 'up']);
    ip(['-n', ns, 'addr', 'add', `${ipOf(i)}/24`, 'dev', nsEnd(i)]);
    ip(['-n', ns, 'link', 'set', nsEnd(i), 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  });
}

const reason = unavailable();
if (reason !== undefined) console.warn(`[grapevine] network namespace tests skipped: ${reason}`);

describe.skipIf(reason !== undefined)('agents in three network namespaces joined by a bridge', () => {
  const fx = agentFixture('grapevine-netns-');
  const mine: Agent[] = [];
  const inNs = (k: number, name: string, args: string[]): Agent => {
    const a = new Agent(name, ['--events', 'json', '--config', join(fx.dir(), 'fast.json'), '--log-level', 'warn', ...args], ['ip', 'netns', 'exec', NAMESPACES[k]!]);
    mine.push(a);
    return a;
  };
  const sees = (viewers: Agent[], target: string, state: string): Promise<void[]> =>
    Promise.all(viewers.map((v) => v.until(() => v.states.get(target) === state, `${target} ${state}`)));

  beforeAll(() => {
    setup();
  });
  afterAll(async () => {
    // Agents first: a namespace lives on while a process is in it.
    for (const a of mine) a.kill('SIGKILL');
    await Promise.all(mine.map((a) => a.exited));
    teardown();
  });

  it('TCP-only agents on three "hosts" join, and a SIGKILLed one is declared dead', async () => {
    const port = 7946;
    const agents = [0, 1, 2].map((k) =>
      inNs(k, `tcp${k}`, ['--transport', 'tcp', '--bind', `${ipOf(k + 1)}:${port}`, ...(k > 0 ? ['--join', `${ipOf(1)}:${port}`] : [])]),
    );
    const readies = await Promise.all(agents.map((a) => a.waitReady()));
    expect(readies.map((r) => r.addr)).toEqual([1, 2, 3].map((i) => `${ipOf(i)}:${port}`));
    const [a0, a1, a2] = agents as [Agent, Agent, Agent];
    await sees([a1, a2], 'tcp0', 'alive');
    await sees([a0, a2], 'tcp1', 'alive');
    await sees([a0, a1], 'tcp2', 'alive');
    a2.kill('SIGKILL');
    await sees([a0, a1], 'tcp2', 'dead');
  });

  it('multicast discovery across the bridge: three agents with no --join find each other', async () => {
    const port = 7950;
    const agents = [0, 1, 2].map((k) =>
      inNs(k, `mc${k}`, ['--bind', `${ipOf(k + 1)}:${port}`, '--multicast', '--multicast-interface', ipOf(k + 1), '--multicast-port', '7951']),
    );
    await Promise.all(agents.map((a) => a.waitReady()));
    for (const viewer of agents) {
      await Promise.all(agents.filter((a) => a !== viewer).map((t) => viewer.until(() => viewer.states.get(t.name) === 'alive', `${t.name} alive`)));
    }
    // They met through the bridge: every address is another namespace's.
    for (const a of agents) {
      for (const e of a.events.filter((ev) => ev.event === 'state')) expect(e.addr).toMatch(new RegExp(`^10\\.213\\.${ID}\\.[123]:${port}$`));
    }
  });
});
