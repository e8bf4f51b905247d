/**
 * Black-box tests of the built `grapevine` CLI (packages/agent/dist/cli.js; `pnpm test` builds
 * first): five agent processes on loopback find each other, see a SIGKILLed one die and a
 * SIGTERMed one leave; the HTTP API and `grapevine members` answer; bad flags exit 2.
 */
import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent, FAST_CONFIG, WAIT_MS, agentFixture, freePort, httpGet, run, type AgentEvent } from './cli-harness.js';

describe('grapevine CLI (built dist/cli.js)', () => {
  const fx = agentFixture('grapevine-cli-');
  const { agents, startAgent, sees } = fx;

  it('five agents join through the first and all see each other alive', async () => {
    const seed = startAgent('a0', ['--http', '127.0.0.1:0', '--meta', 'role=seed']);
    const ready = await seed.waitReady();
    expect(ready).toMatchObject({ event: 'ready', name: 'a0' });
    expect(ready.addr).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(ready.addr).not.toBe('127.0.0.1:0');
    expect(ready.http).toMatch(/^127\.0\.0\.1:\d+$/);
    for (let i = 1; i < 5; i++) startAgent(`a${i}`, ['--join', ready.addr]);
    await Promise.all(agents.map((a) => a.waitReady()));
    for (const viewer of agents) {
      await Promise.all(agents.filter((a) => a !== viewer).map((t) => viewer.until(() => viewer.states.get(t.name) === 'alive', `${t.name} alive`)));
    }
    // The event contract: ready first, then state lines with the documented fields.
    for (const a of agents) {
      expect(a.events[0]!.event).toBe('ready');
      const state = a.events.find((e) => e.event === 'state')!;
      expect(state).toMatchObject({ event: 'state', state: 'alive', incarnation: expect.any(Number) });
      expect(state.addr).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(Number.isNaN(Date.parse(state.at!))).toBe(false);
      expect(a.events.some((e) => e.name === a.name && e.event !== 'ready')).toBe(false); // nothing about itself
    }
  });

  it('serves /v1/members, /metrics and errors over HTTP, and `grapevine members` prints them', async () => {
    const http = agents[0]!.ready!.http!;
    const members = await httpGet(`http://${http}/v1/members`);
    expect(members.status).toBe(200);
    expect(members.type).toMatch(/application\/json/);
    const list = JSON.parse(members.body) as { name: string; addr: string; state: string; incarnation: number; meta: Record<string, string> }[];
    expect(list.map((m) => m.name).sort()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(list.every((m) => m.state === 'alive' && typeof m.incarnation === 'number' && typeof m.addr === 'string')).toBe(true);
    expect(list.find((m) => m.name === 'a0')!.meta).toEqual({ role: 'seed' });

    const metrics = await httpGet(`http://${http}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/text\/plain/);
    expect(metrics.body).toMatch(/^grapevine_members\{state="alive"\} 5$/m);
    expect(metrics.body).toMatch(/^# TYPE grapevine_transport_packets_received counter$/m);
    expect(metrics.body).not.toMatch(/^[a-z_]*\.[a-z.]* /m); // no dotted names

    expect((await httpGet(`http://${http}/nope`)).status).toBe(404);
    expect((await httpGet(`http://${http}/`)).body).toMatch(/<script src="\/dashboard\/client\.js">/);
    expect((await httpGet(`http://${http}/dashboard/client.js`)).body).toMatch(/EventSource\('\/v1\/events'\)/);

    const table = run(['members', '--http', http]);
    expect(table.status).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+ADDRESS\s+STATE\s+INCARNATION\s+META$/);
    for (const name of ['a0', 'a1', 'a2', 'a3', 'a4']) expect(table.stdout).toMatch(new RegExp(`^${name}\\s+127\\.0\\.0\\.1:\\d+\\s+alive\\s`, 'm'));
    const json = run(['members', '--http', http, '--json']);
    expect(json.status).toBe(0);
    expect((JSON.parse(json.stdout) as unknown[]).length).toBe(5);
  });

  it('a SIGKILLed agent is printed dead by the other four (and streamed on /v1/events)', async () => {
    const [a0, a1, a2, a3, a4] = agents as [Agent, Agent, Agent, Agent, Agent];
    const sse = openEventStream(`http://${a0.ready!.http!}/v1/events`);
    try {
      await sse.opened;
      a4.kill('SIGKILL');
      await sees([a0, a1, a2, a3], 'a4', 'dead');
      await sse.until((ev) => ev.event === 'state' && ev.name === 'a4' && ev.state === 'dead');
    } finally {
      sse.close();
    }
    expect((await a4.exited).signal).toBe('SIGKILL');
  });

  it('a SIGTERMed agent leaves: the rest print left, and it exits 0', async () => {
    const [a0, a1, a2, a3] = agents as [Agent, Agent, Agent, Agent];
    a3.kill('SIGTERM');
    await sees([a0, a1, a2], 'a3', 'left');
    const exit = await a3.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    for (const a of [a0, a1, a2]) expect(a.events.some((e) => e.name === 'a3' && e.state === 'dead')).toBe(false);
  });

  it('keeps running when no seed answers, and joins once the seed comes up', async () => {
    const port = await freePort();
    const late = startAgent('late', ['--join', `127.0.0.1:${port}`, '--config', retryConfig()]);
    await late.waitReady();
    await late.until(() => /no seed answered yet/.test(late.stderr), 'the "no seed answered" warning');
    const seed = startAgent('seed', ['--bind', `127.0.0.1:${port}`]);
    await seed.waitReady();
    await sees([late], 'seed', 'alive');
    await sees([seed], 'late', 'alive');
  });

  const retryConfig = (): string => {
    const file = join(fx.dir(), 'retry.json');
    writeFileSync(file, JSON.stringify({ ...FAST_CONFIG, joinRetries: 0, reconnectInterval: 300 }));
    return file;
  };

  it('a bad flag prints one line on stderr and exits 2', () => {
    const r = run(['agent', '--no-such-flag']);
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no-such-flag/);
    const kvFlag = run(['agent', '--kv-resp', '127.0.0.1:0']);
    expect(kvFlag.status).toBe(2);
    expect(kvFlag.stderr).toMatch(/--kv-resp needs --kv/);
    const ws = run(['agent', '--transport', 'ws', '--ws-path', 'no-slash']);
    expect(ws.status).toBe(2);
    expect(ws.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(ws.stderr).toMatch(/--ws-path must start with/);
    const seed = run(['agent', '--join', 'dns+srv://_g._tcp.example.com:53']);
    expect(seed.status).toBe(2);
    expect(seed.stderr).toMatch(/--join: invalid seed address/);
  });

  it('a bad --config file prints one line on stderr and exits 2', () => {
    const cases: [string, RegExp][] = [
      ['{"probeInterval": "fast"}', /probeInterval.*number/],
      ['{"noSuchOption": 1}', /unknown option "noSuchOption"/],
      ['{"probeInterval": 100, "probeTimeout": 500}', /probeTimeout/],
      ['[1, 2]', /JSON object/],
      ['{not json', /not valid JSON/],
    ];
    for (const [i, [text, message]] of cases.entries()) {
      const file = join(fx.dir(), `bad-${i}.json`);
      writeFileSync(file, text);
      const r = run(['agent', '--config', file]);
      expect(r.status, text).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), text).toHaveLength(1);
      expect(r.stderr, text).toMatch(message);
    }
    const missing = run(['agent', '--config', join(fx.dir(), 'missing.json')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read/);
  });

  it('SIGINT also leaves gracefully and exits 0', async () => {
    const [a0] = agents as [Agent];
    const b = startAgent('int', ['--join', a0.ready!.addr]);
    await sees([b], 'a0', 'alive');
    await sees([a0], 'int', 'alive');
    b.kill('SIGINT');
    await sees([a0], 'int', 'left');
    expect(await b.exited).toEqual({ code: 0, signal: null });
  });

  it('demo runs a 3-node cluster through crash and rejoin and exits 0 by itself', () => {
    const r = run(['demo', '--nodes', '3'], 40_000);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/converged/);
    expect(r.stdout).toMatch(/sees node-3 DEAD/);
    expect(r.stdout).toMatch(/node-3 rejoined/);
    expect(run(['demo', '--nodes', '1']).status).toBe(2);
  });

  it('help exits 0, an unknown command exits 2', () => {
    const help = run(['help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/grapevine agent/);
    const unknown = run(['frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

/** A minimal server-sent-events reader for one URL. */
function openEventStream(url: string): { opened: Promise<void>; until: (pred: (ev: AgentEvent) => boolean) => Promise<void>; close: () => void } {
  const events: AgentEvent[] = [];
  const waiters = new Set<() => void>();
  let request: ReturnType<typeof get> | undefined;
  const opened = new Promise<void>((resolve, reject) => {
    request = get(url, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET ${url}: ${res.statusCode}`));
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.includes('\n\n')) resolve();
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of block.split('\n')) if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)) as AgentEvent);
        }
        for (const w of [...waiters]) w();
      });
      res.on('error', () => undefined);
    });
    request.on('error', reject);
  });
  return {
    opened,
    until: (pred) =>
      new Promise((resolve, reject) => {
        const test = (): void => {
          if (!events.some(pred)) return;
          clearTimeout(timer);
          waiters.delete(test);
          resolve();
        };
        const timer = setTimeout(() => reject(new Error(`no matching event on ${url}: ${JSON.stringify(events)}`)), WAIT_MS);
        waiters.add(test);
        test();
      }),
    close: () => request?.destroy(),
  };
}
