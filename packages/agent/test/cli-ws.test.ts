/**
 * Black-box tests of `grapevine agent --transport ws` (the built dist/cli.js): five agents that
 * speak WebSocket only, mounted at a custom path and sharing a bearer token, find each other, see
 * a SIGKILLed one die and a SIGTERMed one leave; the killed one, restarted on the same port,
 * is reconnected to and seen alive again; an agent with the wrong token is refused (401, counted
 * on /metrics) and no cluster forms with it. Two agents serving wss:// with a self-signed
 * certificate (openssl) trust it through --ws-ca-file and join.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAST_CONFIG, agentFixture, httpGet, type Agent } from './cli-harness.js';

const PATH = '/gossip';
const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed';

describe('grapevine agent --transport ws (built dist/cli.js)', () => {
  const fx = agentFixture('grapevine-cli-ws-');
  const { agents, startAgent, sees } = fx;
  const files = (): { token: string; otherToken: string; config: string; oneTry: string } => {
    const token = join(fx.dir(), 'ws.token');
    const otherToken = join(fx.dir(), 'other.token');
    const config = join(fx.dir(), 'ws.json');
    const oneTry = join(fx.dir(), 'one-try.json');
    writeFileSync(token, 'cluster-token-1\n');
    writeFileSync(otherToken, 'some-other-token\n');
    // Healing every second (the default is 10 s) so the restart test does not wait on the timer.
    writeFileSync(config, JSON.stringify({ ...FAST_CONFIG, reconnectInterval: 1000 }));
    writeFileSync(oneTry, JSON.stringify({ ...FAST_CONFIG, joinRetries: 0 }));
    return { token, otherToken, config, oneTry };
  };
  let f: ReturnType<typeof files>;
  const wsAgent = (name: string, extra: string[] = [], token?: string): Agent =>
    startAgent(name, ['--transport', 'ws', '--ws-path', PATH, '--ws-token-file', token ?? f.token, '--config', f.config, ...extra]);

  it('five WebSocket-only agents join through ws:// URLs and all see each other alive', async () => {
    f = files();
    const seed = wsAgent('w0', ['--http', '127.0.0.1:0']);
    const ready = await seed.waitReady();
    expect(ready.addr).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:\\d+${PATH}$`));
    // Joins by the URL and by host:port (which the WebSocket transport reads as ws://host:port/<path>).
    const hostPort = ready.addr.replace(/^ws:\/\//, '').replace(PATH, '');
    for (let i = 1; i < 5; i++) wsAgent(`w${i}`, ['--join', i % 2 === 0 ? ready.addr : hostPort]);
    await Promise.all(agents.map((a) => a.waitReady()));
    for (const viewer of agents) {
      await Promise.all(agents.filter((a) => a !== viewer).map((t) => viewer.until(() => viewer.states.get(t.name) === 'alive', `${t.name} alive`)));
    }
    for (const a of agents) {
      const state = a.events.find((e) => e.event === 'state')!;
      expect(state.addr).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:\\d+${PATH}$`));
    }
    const metrics = await httpGet(`http://${ready.http!}/metrics`);
    expect(metrics.body).toMatch(/^grapevine_members\{state="alive"\} 5$/m);
    expect(metrics.body).toMatch(/^grapevine_transport_connections_accepted [1-9]\d*$/m);
    expect(metrics.body).toMatch(/^grapevine_transport_auth_failures 0$/m);
  });

  it('a SIGKILLed agent is seen dead, a SIGTERMed one left', async () => {
    const [w0, w1, w2, w3, w4] = agents as [Agent, Agent, Agent, Agent, Agent];
    w4.kill('SIGKILL');
    await sees([w0, w1, w2, w3], 'w4', 'dead');
    w3.kill('SIGTERM');
    await sees([w0, w1, w2], 'w3', 'left');
    expect(await w3.exited).toEqual({ code: 0, signal: null });
    for (const a of [w0, w1, w2]) expect(a.events.some((e) => e.name === 'w3' && e.state === 'dead')).toBe(false);
  });

  it('the killed agent, restarted on the same port without --join, is reconnected to and seen alive again', async () => {
    const [w0, w1, w2, , w4] = agents as [Agent, Agent, Agent, Agent, Agent];
    const port = /:(\d+)\//.exec(w4.ready!.addr)![1]!;
    const again = wsAgent('w4', ['--bind', `127.0.0.1:${port}`]);
    expect((await again.waitReady()).addr).toBe(w4.ready!.addr);
    // Nobody told it about the cluster: the others dial the dead member's URL again (they keep
    // gossiping to the dead for a while, and healing contacts dead members), and it answers.
    await sees([w0, w1, w2], 'w4', 'alive');
    await Promise.all(['w0', 'w1', 'w2'].map((n) => again.until(() => again.states.get(n) === 'alive', `${n} alive`)));
  });

  it('an agent with the wrong bearer token is refused: 401s counted, no cluster with it', async () => {
    const [w0, w1, w2] = agents as [Agent, Agent, Agent];
    const intruder = wsAgent('intruder', ['--join', w0.ready!.addr, '--config', f.oneTry], f.otherToken);
    await intruder.waitReady();
    await intruder.until(() => /no seed answered yet|initial join failed/.test(intruder.stderr), 'the failed-join warning');
    const metrics = await httpGet(`http://${w0.ready!.http!}/metrics`);
    const failures = Number(/^grapevine_transport_auth_failures (\d+)$/m.exec(metrics.body)?.[1]);
    expect(failures).toBeGreaterThan(0);
    const members = JSON.parse((await httpGet(`http://${w0.ready!.http!}/v1/members`)).body) as { name: string }[];
    expect(members.map((m) => m.name)).not.toContain('intruder');
    for (const a of [w0, w1, w2]) expect(a.states.has('intruder')).toBe(false);
    expect(intruder.states.size).toBe(0);
  });

  it.skipIf(opensslMissing !== undefined)('two agents serve wss:// with --ws-cert-file/--ws-key-file and trust each other with --ws-ca-file', async () => {
    const cert = join(fx.dir(), 'cert.pem');
    const key = join(fx.dir(), 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { stdio: 'ignore' });
    const tls = ['--ws-cert-file', cert, '--ws-key-file', key, '--ws-ca-file', cert];
    const s1 = wsAgent('s1', tls);
    const ready = await s1.waitReady();
    expect(ready.addr).toMatch(new RegExp(`^wss://127\\.0\\.0\\.1:\\d+${PATH}$`));
    const s2 = wsAgent('s2', [...tls, '--join', ready.addr]);
    await s2.waitReady();
    await sees([s1], 's2', 'alive');
    await sees([s2], 's1', 'alive');
  });
});
