import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cipher } from '@grapevine/core';
import {
  MulticastDiscovery,
  decodeAnnouncement,
  encodeAnnouncement,
  type Announcement,
  type MulticastDiscoveryOptions,
  type SealingKey,
} from '@grapevine/discovery';
import { eventually, freeUdpPort, probeMulticast, type ProbeResult } from './helpers/multicast.js';
import { RecordingLogger } from './helpers/logger.js';

/** AES-256-GCM through node:crypto, a Cipher for these tests only. */
const testCipher: Cipher = {
  id: 2,
  name: 'test-aes-256-gcm',
  keyLength: 32,
  nonceLength: 12,
  tagLength: 16,
  seal(key, nonce, plaintext, aad) {
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(aad);
    return new Uint8Array(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
  },
  open(key, nonce, sealed, aad) {
    if (key.length !== 32 || nonce.length !== 12 || sealed.length < 16) return null;
    try {
      const d = createDecipheriv('aes-256-gcm', key, nonce);
      d.setAAD(aad);
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      return new Uint8Array(Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]));
    } catch {
      return null;
    }
  },
};

const GROUP = '239.0.0.1';
const LO = '127.0.0.1';
const INTERVAL = 100;
const keyK = new Uint8Array(randomBytes(32));
const keyOther = new Uint8Array(randomBytes(32));
const sealK = (): SealingKey => ({ cipher: testCipher, key: keyK, nonce: () => new Uint8Array(randomBytes(12)) });

let loopback: ProbeResult = { ok: false, detail: 'not probed' };

beforeAll(async () => {
  // Tests send multicast on the loopback interface only (TTL 1): nothing leaves this host.
  loopback = await probeMulticast(GROUP, LO);
  console.info(`[discovery] multicast probe, interface ${LO}: ${loopback.detail}`);
});

function needs(probe: ProbeResult, ctx: { skip: (note?: string) => void }): void {
  if (!probe.ok) {
    console.warn(`[discovery] skipped: ${probe.detail}`);
    ctx.skip(probe.detail);
  }
}

describe('MulticastDiscovery', () => {
  const open: MulticastDiscovery[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
    for (const s of sockets.splice(0)) s.close();
  });

  function node(port: number, i: number, extra: Partial<MulticastDiscoveryOptions> = {}): MulticastDiscovery {
    const d = new MulticastDiscovery({
      name: `node-${i}`,
      advertise: `127.0.0.1:${20000 + i}`,
      port,
      interface: LO,
      announceInterval: INTERVAL,
      ...extra,
    });
    open.push(d);
    return d;
  }

  /** A bare socket that sends datagrams to the group on loopback. */
  async function rawSender(): Promise<(data: Uint8Array, port: number) => Promise<void>> {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    sockets.push(s);
    await new Promise<void>((resolve) => s.bind(0, LO, () => resolve()));
    s.setMulticastInterface(LO);
    s.setMulticastLoopback(true);
    return (data, port) => new Promise<void>((resolve, reject) => s.send(data, port, GROUP, (err) => (err ? reject(err) : resolve())));
  }

  const others = (self: number, n: number): string[] =>
    Array.from({ length: n }, (_, i) => i)
      .filter((i) => i !== self)
      .map((i) => `127.0.0.1:${20000 + i}`);

  it('three nodes on one host see each other (loopback interface) within a few intervals', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const nodes = [0, 1, 2].map((i) => node(port, i));
    const t0 = Date.now();
    await Promise.all(nodes.map((d) => d.start()));
    const allSeeAll = async (): Promise<boolean> => {
      const seen = await Promise.all(nodes.map((d) => d.resolve()));
      return seen.every((s, i) => s.length === 2 && others(i, 3).every((a) => s.includes(a)));
    };
    const ok = await eventually(allSeeAll, 5 * INTERVAL);
    console.info(`[discovery] 3 nodes on ${LO} converged in ${Date.now() - t0} ms`);
    expect(ok).toBe(true);
    // Periodic announcements keep them known well past the expiry (3 intervals).
    await new Promise((resolve) => setTimeout(resolve, 6 * INTERVAL));
    expect(await allSeeAll()).toBe(true);
    expect(Math.min(...nodes.map((d) => d.stats.sent))).toBeGreaterThanOrEqual(5);
    for (const d of nodes) {
      expect(d.stats.self).toBeGreaterThan(0); // our own datagrams come back (loopback) and are ignored
      expect(d.stats.malformed).toBe(0);
      expect(d.peers().map((p) => p.name).sort()).toHaveLength(2);
    }
  });

  it('a node that closes says goodbye and is dropped at once; a silent one expires', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const [a, b] = [node(port, 0, { expiry: 300, announceInterval: 100 }), node(port, 1)];
    await Promise.all([a!.start(), b!.start()]);
    expect(await eventually(async () => (await a!.resolve()).length === 1, 1000)).toBe(true);
    await b!.close();
    expect(await eventually(async () => (await a!.resolve()).length === 0, 100)).toBe(true);
    expect(a!.stats.left).toBe(1);

    // A peer heard once and never again is forgotten after `expiry`.
    const send = await rawSender();
    await send(encodeAnnouncement({ name: 'ghost', addr: '10.1.1.1:7946', label: '', ts: Date.now(), leave: false }), port);
    expect(await eventually(async () => (await a!.resolve()).includes('10.1.1.1:7946'), 500)).toBe(true);
    const heard = Date.now();
    expect(await eventually(async () => !(await a!.resolve()).includes('10.1.1.1:7946'), 1000)).toBe(true);
    expect(Date.now() - heard).toBeGreaterThanOrEqual(250);
  });

  it('malformed datagrams are dropped and counted, never thrown; discovery goes on', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const a = node(port, 0);
    await a.start();
    const send = await rawSender();
    const good = encodeAnnouncement({ name: 'x', addr: '10.2.2.2:1', label: '', ts: Date.now(), leave: false });
    const bad: Uint8Array[] = [
      new Uint8Array([1]),
      new TextEncoder().encode('{"v":1,"name":"json"}'),
      good.subarray(0, good.length - 1), // truncated
      Uint8Array.of(...good.subarray(0, 4), 9, ...good.subarray(5)), // unknown version
      encodeAnnouncement({ name: 'y', addr: 'not an address', label: '', ts: Date.now(), leave: false }),
      new Uint8Array(1500),
    ];
    for (const b of bad) await send(b, port);
    await send(good, port);
    expect(await eventually(async () => (await a.resolve()).includes('10.2.2.2:1'), 500)).toBe(true);
    expect(await eventually(() => a.stats.malformed === bad.length, 500)).toBe(true);
    expect(await a.resolve()).toEqual(['10.2.2.2:1']);
  });

  it('announcements of another cluster label are ignored', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const a = node(port, 0, { label: 'prod' });
    const b = node(port, 1, { label: 'staging' });
    const c = node(port, 2, { label: 'prod' });
    await Promise.all([a.start(), b.start(), c.start()]);
    expect(await eventually(async () => (await a.resolve()).length === 1, 1000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL));
    expect(await a.resolve()).toEqual(['127.0.0.1:20002']);
    expect(a.stats.labelMismatch).toBeGreaterThan(0);
  });

  it('takes an interface by name ("lo")', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const a = node(port, 0, { interface: 'lo' });
    const b = node(port, 1, { interface: 'lo' });
    await Promise.all([a.start(), b.start()]);
    expect(await eventually(async () => (await a.resolve()).includes('127.0.0.1:20001'), 1000)).toBe(true);
  });

  it('a wildcard advertise host becomes the sender\'s address', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const a = node(port, 0);
    const b = node(port, 1, { advertise: '0.0.0.0:7000' });
    await Promise.all([a.start(), b.start()]);
    expect(await eventually(async () => (await a.resolve()).includes('127.0.0.1:7000'), 1000)).toBe(true);
  });

  it('remembers at most maxPeers peers, counting the overflow', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const a = node(port, 0, { maxPeers: 2 });
    await a.start();
    const send = await rawSender();
    for (const i of [1, 2, 3]) {
      await send(encodeAnnouncement({ name: `p${i}`, addr: `10.3.3.${i}:1`, label: '', ts: Date.now(), leave: false }), port);
    }
    expect(await eventually(() => a.stats.overflow === 1, 500)).toBe(true);
    expect((await a.resolve()).sort()).toEqual(['10.3.3.1:1', '10.3.3.2:1']);
  });

  it('shares the port with other processes\' sockets (SO_REUSEADDR) but explains a port held exclusively', async () => {
    const port = await freeUdpPort();
    const holder = createSocket('udp4'); // like a gossip transport: no SO_REUSEADDR
    sockets.push(holder);
    await new Promise<void>((resolve) => holder.bind(port, '0.0.0.0', () => resolve()));
    const a = node(port, 0);
    await expect(a.start()).rejects.toMatchObject({ code: 'ERR_UNREACHABLE', message: expect.stringMatching(/EADDRINUSE.*gossip transport/) });
    // resolve() never rejects for it: it logs and returns [].
    const logger = new RecordingLogger();
    const b = node(port, 1, { logger });
    expect(await b.resolve()).toEqual([]);
    expect(logger.at('warn')).toHaveLength(1);
  });

  it('starts lazily on resolve(); close() is idempotent and resolve() then returns []', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const a = node(port, 0);
    expect(a.running).toBe(false);
    expect(await a.resolve()).toEqual([]);
    expect(a.running).toBe(true);
    expect(a.name).toBe(`multicast 239.0.0.1:${port}`);
    await Promise.all([a.close(), a.close()]);
    expect(a.running).toBe(false);
    expect(await a.resolve()).toEqual([]);
    await expect(a.start()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('refuses bad options with ERR_INVALID_OPTION', () => {
    const base = { name: 'n', advertise: '10.0.0.1:7946' };
    const bad: Partial<MulticastDiscoveryOptions>[] = [
      { group: '10.0.0.1' },
      { port: 0 },
      { interface: 'no-such-if0' },
      { interface: '' },
      { announceInterval: 1 },
      { ttl: 256 },
      { maxPeers: 0 },
      { name: '' },
      { name: 'x'.repeat(256) },
      { label: 'l'.repeat(256) },
      { auth: { cipher: testCipher, key: new Uint8Array(16) } },
    ];
    for (const b of bad) {
      expect(() => new MulticastDiscovery({ ...base, ...b }), JSON.stringify(b)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
    expect(() => new MulticastDiscovery({ ...base, advertise: 'dns://x' })).toThrow(/advertise/);
    expect(() => new MulticastDiscovery({ ...base, advertise: 'nope:port' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
    expect(new MulticastDiscovery(base)).toMatchObject({ group: '239.0.0.1', port: 7946, advertise: '10.0.0.1:7946' });
  });
});

describe('MulticastDiscovery with a key', () => {
  const open: MulticastDiscovery[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
    for (const s of sockets.splice(0)) s.close();
  });

  function node(port: number, i: number, extra: Partial<MulticastDiscoveryOptions> = {}): MulticastDiscovery {
    const d = new MulticastDiscovery({ name: `k${i}`, advertise: `127.0.0.1:${21000 + i}`, port, interface: LO, announceInterval: INTERVAL, ...extra });
    open.push(d);
    return d;
  }

  async function rawSender(): Promise<(data: Uint8Array, port: number) => Promise<void>> {
    const s = createSocket({ type: 'udp4' });
    sockets.push(s);
    await new Promise<void>((resolve) => s.bind(0, LO, () => resolve()));
    s.setMulticastInterface(LO);
    return (data, port) => new Promise<void>((resolve, reject) => s.send(data, port, GROUP, (err) => (err ? reject(err) : resolve())));
  }

  it('hears only announcements sealed with its key: not another key\'s, not clear ones', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const listener = node(port, 0, { auth: { cipher: testCipher, key: keyK } });
    const friend = node(port, 1, { auth: { cipher: testCipher, key: keyK, nonce: () => new Uint8Array(randomBytes(12)) } });
    const stranger = node(port, 2, { auth: { cipher: testCipher, key: keyOther } });
    const clear = node(port, 3);
    await Promise.all([listener, friend, stranger, clear].map((d) => d.start()));
    expect(await eventually(async () => (await listener.resolve()).length > 0, 1000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 3 * INTERVAL));
    expect(await listener.resolve()).toEqual(['127.0.0.1:21001']);
    expect(await friend.resolve()).toEqual(['127.0.0.1:21000']);
    expect(listener.stats.unauthenticated).toBeGreaterThanOrEqual(4); // stranger's and clear's, repeatedly
    // The clear node can't read sealed announcements either, and sees only nothing.
    expect(await clear.resolve()).toEqual([]);
    expect(clear.stats.unauthenticated).toBeGreaterThan(0);
  });

  it('drops stale announcements (older than 2 intervals, from the future, or replayed out of order)', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const listener = node(port, 0, { auth: { cipher: testCipher, key: keyK } });
    await listener.start();
    const send = await rawSender();
    const ann = (ts: number): Announcement => ({ name: 'old', addr: '10.4.4.4:1', label: '', ts, leave: false });
    await send(encodeAnnouncement(ann(Date.now() - 3 * INTERVAL), sealK()), port);
    await send(encodeAnnouncement(ann(Date.now() + 3 * INTERVAL), sealK()), port);
    expect(await eventually(() => listener.stats.stale === 2, 500)).toBe(true);
    expect(await listener.resolve()).toEqual([]);

    const now = Date.now();
    await send(encodeAnnouncement(ann(now), sealK()), port);
    expect(await eventually(async () => (await listener.resolve()).length === 1, 500)).toBe(true);
    await send(encodeAnnouncement({ ...ann(now - 10), leave: true }, sealK()), port); // an older datagram, replayed
    expect(await eventually(() => listener.stats.stale === 3, 500)).toBe(true);
    expect(await listener.resolve()).toEqual(['10.4.4.4:1']);

    // A real goodbye removes it; its earlier announcement, replayed after, stays stale.
    await send(encodeAnnouncement({ ...ann(now + 1), leave: true }, sealK()), port);
    expect(await eventually(async () => (await listener.resolve()).length === 0, 500)).toBe(true);
    await send(encodeAnnouncement(ann(now), sealK()), port);
    expect(await eventually(() => listener.stats.stale === 4, 500)).toBe(true);
    expect(await listener.resolve()).toEqual([]);
  });

  it('accepts previous keys on receipt while keys rotate', async (ctx) => {
    needs(loopback, ctx);
    const port = await freeUdpPort();
    const listener = node(port, 0, { auth: { cipher: testCipher, key: keyOther, previousKeys: [keyK] } });
    const old = node(port, 1, { auth: { cipher: testCipher, key: keyK } });
    await Promise.all([listener.start(), old.start()]);
    expect(await eventually(async () => (await listener.resolve()).includes('127.0.0.1:21001'), 1000)).toBe(true);
  });
});

describe('announcement codec', () => {
  const arbAnn = fc.record({
    name: fc.string({ minLength: 1, maxLength: 60 }),
    addr: fc.string({ minLength: 1, maxLength: 60 }),
    label: fc.string({ maxLength: 60 }),
    ts: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    leave: fc.boolean(),
  });

  it('round-trips, clear and sealed', () => {
    fc.assert(
      fc.property(arbAnn, fc.boolean(), (a, sealed) => {
        const bytes = encodeAnnouncement(a, sealed ? sealK() : undefined);
        const back = decodeAnnouncement(bytes, sealed ? { cipher: testCipher, keys: [keyK] } : undefined);
        return back.ok && back.sealed === sealed && JSON.stringify(back.announcement) === JSON.stringify(a);
      }),
    );
  });

  it('never throws on arbitrary bytes, nor on mutated valid ones', () => {
    const valid = encodeAnnouncement({ name: 'n', addr: '1.2.3.4:5', label: 'l', ts: 1, leave: false });
    const sealedValid = encodeAnnouncement({ name: 'n', addr: '1.2.3.4:5', label: 'l', ts: 1, leave: false }, sealK());
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 1200 }),
          fc.tuple(fc.nat(valid.length - 1), fc.nat(255)).map(([i, v]) => Uint8Array.from(valid, (b, j) => (j === i ? v : b))),
          fc.tuple(fc.nat(sealedValid.length - 1), fc.nat(255)).map(([i, v]) => Uint8Array.from(sealedValid, (b, j) => (j === i ? v : b))),
          fc.nat(valid.length).map((n) => valid.subarray(0, n)),
        ),
        (bytes) => {
          for (const open of [undefined, { cipher: testCipher, keys: [keyK] }]) {
            const r = decodeAnnouncement(bytes, open);
            if (!r.ok && r.reason !== 'malformed' && r.reason !== 'unauthenticated') return false;
          }
          return true;
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a tampered sealed announcement does not open', () => {
    const bytes = encodeAnnouncement({ name: 'n', addr: '1.2.3.4:5', label: '', ts: 1, leave: false }, sealK());
    for (let i = 5; i < bytes.length; i++) {
      const t = Uint8Array.from(bytes);
      t[i]! ^= 1;
      expect(decodeAnnouncement(t, { cipher: testCipher, keys: [keyK] }).ok, `byte ${i}`).toBe(false);
    }
  });
});
