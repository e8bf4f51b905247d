/**
 * Black-box tests of `grapevine agent --transport tcp` (the built dist/cli.js): five agents that
 * speak TCP only (no UDP socket at all) find each other, see a SIGKILLed one die and a SIGTERMed
 * one leave.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { agentFixture, httpGet, type Agent } from './cli-harness.js';

/** True when a UDP socket can bind host:port right now (nobody holds it). */
function udpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, host, () => s.close(() => resolve(true)));
  });
}

describe('grapevine agent --transport tcp (built dist/cli.js)', () => {
  const { agents, startAgent, sees } = agentFixture('grapevine-cli-tcp-');

  it('five TCP-only agents join and all see each other alive, with no UDP socket bound', async () => {
    const seed = startAgent('t0', ['--transport', 'tcp', '--http', '127.0.0.1:0']);
    const ready = await seed.waitReady();
    expect(ready.addr).toMatch(/^127\.0\.0\.1:\d+$/);
    for (let i = 1; i < 5; i++) startAgent(`t${i}`, ['--transport', 'tcp', '--join', ready.addr]);
    await Promise.all(agents.map((a) => a.waitReady()));
    for (const viewer of agents) {
      await Promise.all(agents.filter((a) => a !== viewer).map((t) => viewer.until(() => viewer.states.get(t.name) === 'alive', `${t.name} alive`)));
    }
    // TCP only: the agents' ports are free for UDP (the udp+tcp transport would hold them).
    for (const a of agents) {
      const [host, port] = a.ready!.addr.split(':') as [string, string];
      expect(await udpFree(host, Number(port)), a.name).toBe(true);
    }
    const metrics = await httpGet(`http://${ready.http!}/metrics`);
    expect(metrics.body).toMatch(/^grapevine_members\{state="alive"\} 5$/m);
    expect(metrics.body).toMatch(/^grapevine_transport_connections_accepted [1-9]\d*$/m);
  });

  it('a SIGKILLed agent is seen dead, a SIGTERMed one left', async () => {
    const [t0, t1, t2, t3, t4] = agents as [Agent, Agent, Agent, Agent, Agent];
    t4.kill('SIGKILL');
    await sees([t0, t1, t2, t3], 't4', 'dead');
    expect((await t4.exited).signal).toBe('SIGKILL');
    t3.kill('SIGTERM');
    await sees([t0, t1, t2], 't3', 'left');
    expect(await t3.exited).toEqual({ code: 0, signal: null });
    for (const a of [t0, t1, t2]) expect(a.events.some((e) => e.name === 't3' && e.state === 'dead')).toBe(false);
  });
});
