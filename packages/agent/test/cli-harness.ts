/**
 * Shared by the black-box CLI tests: spawn the built `grapevine` (packages/agent/dist/cli.js;
 * `pnpm test` builds first) as agents that print --events json, and small HTTP helpers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { get } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const WAIT_MS = 20_000;
export const FAST_CONFIG = { profile: 'fast', probeInterval: 250, probeTimeout: 100, suspicionMult: 2, gossipInterval: 50 };

export interface AgentEvent {
  event: string;
  name: string;
  addr: string;
  state?: string;
  incarnation?: number;
  at?: string;
  http?: string;
  meta?: Record<string, string>;
}

export class Agent {
  readonly events: AgentEvent[] = [];
  /** Latest state printed for each other member. */
  readonly states = new Map<string, string>();
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();
  private readonly proc: ChildProcess;

  /** `wrap`: a command the agent runs under, e.g. ['ip', 'netns', 'exec', 'ns1'] (it must exec the agent, keeping the pid). */
  constructor(readonly name: string, args: string[], wrap: string[] = []) {
    const argv = [process.execPath, CLI, 'agent', '--name', name, ...args];
    const [command, ...rest] = [...wrap, ...argv] as [string, ...string[]];
    this.proc = spawn(command, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      let ev: AgentEvent;
      try {
        ev = JSON.parse(line) as AgentEvent;
      } catch {
        throw new Error(`agent ${name} printed a non-JSON line on stdout: ${line}`);
      }
      this.events.push(ev);
      if (ev.event === 'state' && ev.state !== undefined) this.states.set(ev.name, ev.state);
      this.poke();
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.poke();
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
      resolve({ code, signal });
      this.poke();
    }));
  }

  get ready(): AgentEvent | undefined {
    return this.events.find((e) => e.event === 'ready');
  }

  kill(signal: NodeJS.Signals): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }

  until(check: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const test = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(test);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(test);
        reject(new Error(`agent ${this.name}: timed out waiting for ${what}; states ${JSON.stringify([...this.states])}; stderr tail: ${this.stderr.slice(-800)}`));
      }, ms);
      this.waiters.add(test);
      test();
    });
  }

  async waitReady(): Promise<AgentEvent> {
    await this.until(() => this.ready !== undefined, 'the ready line');
    return this.ready!;
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** A port free on loopback for both UDP and TCP a moment ago. */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
    await new Promise((r) => server.close(r));
    const free = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export function run(args: string[], timeout = 15_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function httpGet(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

/**
 * The fixture every CLI test file needs: a temp dir holding a fast-timing --config, agents started
 * on 127.0.0.1:0 with --events json, and everything killed and removed after the file's tests.
 */
export function agentFixture(prefix: string) {
  const agents: Agent[] = [];
  let dir = '';
  let config = '';
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (pnpm exec tsc -b)`);
    dir = mkdtempSync(join(tmpdir(), prefix));
    config = join(dir, 'fast.json');
    writeFileSync(config, JSON.stringify(FAST_CONFIG));
  });
  afterAll(async () => {
    for (const a of agents) a.kill('SIGKILL');
    await Promise.all(agents.map((a) => a.exited));
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    /** Every agent started, in order. */
    agents,
    dir: (): string => dir,
    startAgent(name: string, extra: string[] = [], logLevel = 'warn'): Agent {
      const a = new Agent(name, ['--bind', '127.0.0.1:0', '--events', 'json', '--config', config, '--log-level', logLevel, ...extra]);
      agents.push(a);
      return a;
    },
    /** Every viewer prints `target` in `state`. */
    sees(viewers: Agent[], target: string, state = 'alive'): Promise<void[]> {
      return Promise.all(viewers.map((v) => v.until(() => v.states.get(target) === state, `${target} ${state}`)));
    },
  };
}
