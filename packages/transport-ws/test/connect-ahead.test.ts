import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '@grapevine/core';
import { Inbox } from '@grapevine/testkit';
import { WsTransport, type WsTransportOptions } from '@grapevine/transport-ws';
import { eventually } from './helpers.js';

const WAIT = 5000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('WsTransport connect ahead', () => {
  const transports: WsTransport[] = [];
  const clusters: Cluster[] = [];
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.close()));
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });

  function make(options: Partial<WsTransportOptions> = {}): WsTransport {
    const t = new WsTransport({ listen: { host: '127.0.0.1', port: 0 }, connectAheadDelay: 10, ...options });
    transports.push(t);
    return t;
  }

  async function started(options: Partial<WsTransportOptions> = {}): Promise<{ t: WsTransport; inbox: Inbox }> {
    const t = make(options);
    const inbox = new Inbox();
    await t.start(inbox);
    return { t, inbox };
  }

  /** Two started transports, the one whose URL sorts first as `low`. */
  async function pair(options: Partial<WsTransportOptions> = {}): Promise<{ low: WsTransport; high: WsTransport; lowInbox: Inbox; highInbox: Inbox }> {
    const x = await started(options);
    const y = await started(options);
    const [l, h] = x.t.address < y.t.address ? [x, y] : [y, x];
    return { low: l.t, high: h.t, lowInbox: l.inbox, highInbox: h.inbox };
  }

  it('dials from the side whose URL sorts first, sends nothing, and later sends both ways share that connection', async () => {
    const { low, high, lowInbox, highInbox } = await pair();
    high.connect(low.address); // the side that would lose the tie-break does not dial
    low.connect(high.address);
    await eventually(() => high.stats.connectionsAccepted === 1 && low.stats.aheadDials === 1, WAIT, 'the ahead-of-time dial');
    await sleep(50);
    expect(high.stats.aheadDials).toBe(0);
    expect(high.stats.connectionsOpened).toBe(0);
    expect(lowInbox.messages).toHaveLength(0);
    expect(highInbox.messages).toHaveLength(0);
    await high.sendReliable(low.address, Uint8Array.of(1));
    await low.sendReliable(high.address, Uint8Array.of(2));
    await Promise.all([lowInbox.waitForCount(1, WAIT), highInbox.waitForCount(1, WAIT)]);
    expect(low.stats.connectionsOpened).toBe(1);
    expect(high.stats.connectionsOpened).toBe(0);
    expect(low.connectionCount).toBe(1);
  });

  it('does not dial again while a connection exists, nor at all with connectAhead off', async () => {
    const { low, high, highInbox } = await pair();
    await low.sendReliable(high.address, Uint8Array.of(1));
    await highInbox.waitForCount(1, WAIT);
    low.connect(high.address);
    await sleep(60);
    expect(low.stats.aheadDials).toBe(0);
    expect(low.stats.connectionsOpened).toBe(1);

    const off = await pair({ connectAhead: false });
    off.low.connect(off.high.address);
    await sleep(60);
    expect(off.low.stats.aheadDials).toBe(0);
    expect(off.high.stats.connectionsAccepted).toBe(0);
  });

  it('ignores addresses it cannot dial, and pending dials end with close()', async () => {
    const { t } = await started({ connectAheadDelay: 60_000 });
    expect(() => t.connect('not an address')).not.toThrow();
    expect(() => t.connect('ftp://127.0.0.1:1/x')).not.toThrow();
    const { t: other } = await started();
    t.connect(other.address);
    other.connect(t.address);
    await t.close();
    await other.close();
    expect(t.stats.aheadDials + other.stats.aheadDials).toBe(0);
  });

  it('rejects a bad connectAheadDelay', () => {
    expect(() => make({ connectAheadDelay: -1 })).toThrow(/connectAheadDelay/);
    expect(() => make({ connectAheadDelay: 1.5 })).toThrow(/connectAheadDelay/);
  });

  it('is asked by the cluster for every member that appears', async () => {
    const hinted = new Map<string, string[]>();
    const spied = (name: string): WsTransport => {
      const t = make();
      const calls: string[] = [];
      hinted.set(name, calls);
      const connect = t.connect.bind(t);
      t.connect = (to: string): void => {
        calls.push(to);
        connect(to);
      };
      return t;
    };
    const a = await Cluster.create({ name: 'a', transport: spied('a') });
    clusters.push(a);
    const b = await Cluster.create({ name: 'b', transport: spied('b') });
    clusters.push(b);
    const c = await Cluster.create({ name: 'c', transport: spied('c') });
    clusters.push(c);
    await b.join(a.localNode.address);
    await c.join(a.localNode.address);
    await eventually(() => [a, b, c].every((x) => x.members({ state: 'alive' }).length === 3), WAIT, 'three alive members everywhere');
    const addr = { a: a.localNode.address, b: b.localNode.address, c: c.localNode.address };
    expect(new Set(hinted.get('a'))).toEqual(new Set([addr.b, addr.c]));
    expect(new Set(hinted.get('b'))).toEqual(new Set([addr.a, addr.c]));
    expect(new Set(hinted.get('c'))).toEqual(new Set([addr.a, addr.b]));
  });
});
