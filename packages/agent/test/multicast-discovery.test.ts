/**
 * `grapevine agent --multicast` (the built dist/cli.js): three agents started with no --join find
 * each other by multicast announcements and form one cluster; the announcements are sealed with
 * the cluster key, so an agent without it is neither found nor finds anyone. Everything stays on
 * the loopback interface (TTL 1, interface 127.0.0.1); without loopback multicast the tests skip
 * and say why.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeKey, generateKey } from '@grapevine/node';
import { agentFixture, httpGet, type Agent } from './cli-harness.js';
import { freeUdpPort, probeMulticast, type ProbeResult } from '../../discovery/test/helpers/multicast.js';

const GROUP = '239.0.0.1';
const LO = '127.0.0.1';

let loopback: ProbeResult = { ok: false, detail: 'not probed' };

beforeAll(async () => {
  loopback = await probeMulticast(GROUP, LO);
  console.info(`[grapevine] multicast probe, interface ${LO}: ${loopback.detail}`);
});

function needsMulticast(ctx: { skip: (note?: string) => void }): void {
  if (!loopback.ok) {
    console.warn(`[grapevine] multicast discovery test skipped: ${loopback.detail}`);
    ctx.skip(loopback.detail);
  }
}

describe('grapevine agent --multicast on loopback', () => {
  const fx = agentFixture('grapevine-cli-mcast-');
  const { startAgent } = fx;
  let port = 0;
  let keyFile = '';
  const found: Agent[] = [];
  /** One counter from every keyed agent's /metrics. */
  const counter = async (name: string): Promise<number[]> =>
    Promise.all(found.map(async (a) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await httpGet(`http://${a.ready!.http!}/metrics`)).body)?.[1])));
  const mcastAgent = (name: string, extra: string[]): Agent =>
    startAgent(name, ['--multicast', '--multicast-group', GROUP, '--multicast-interface', LO, '--multicast-port', String(port), ...extra]);

  it('three agents with no --join discover each other and converge', async (ctx) => {
    needsMulticast(ctx);
    port = await freeUdpPort();
    keyFile = join(fx.dir(), 'cluster.key');
    writeFileSync(keyFile, `${encodeKey(generateKey())}\n`);
    for (let i = 0; i < 3; i++) found.push(mcastAgent(`m${i}`, ['--key-file', keyFile, '--http', '127.0.0.1:0']));
    await Promise.all(found.map((a) => a.waitReady()));
    for (const viewer of found) {
      await Promise.all(found.filter((a) => a !== viewer).map((t) => viewer.until(() => viewer.states.get(t.name) === 'alive', `${t.name} alive`)));
    }
    for (const a of found) expect(a.stderr).not.toMatch(/"level":50/); // no errors logged
    // Which of them heard whom depends on who started first; between them, announcements were taken in.
    expect((await counter('grapevine_multicast_accepted')).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('an agent without the key hears nobody and is heard by nobody', async (ctx) => {
    needsMulticast(ctx);
    const stranger = mcastAgent('stranger', []);
    await stranger.waitReady();
    // Two announcement rounds of the others reach it (each newcomer is answered at once); none counts.
    await new Promise((r) => setTimeout(r, 2500));
    expect(stranger.states.size).toBe(0);
    for (const a of found) expect(a.states.has('stranger')).toBe(false);
    // Its announcements did arrive (each of the others heard its first one), and were refused as unsealed.
    for (const n of await counter('grapevine_multicast_unauthenticated')) expect(n).toBeGreaterThan(0);
  });
});
