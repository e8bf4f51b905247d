/**
 * What the live fuzz tests (fuzz-live-*.test.ts) share: their constants, a seeded PRNG, a forced
 * GC for heap measurements, small waits, and the Tap transport that sees every inbound envelope
 * before the node does. See fuzz-live-suite.ts for what the tests check.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GrapevineError, type InboundInfo, type TransportReceiver } from '@grapevine/core';
import { UdpTcpTransport, type Transport } from '@grapevine/node';

export const SEED = Number(process.env.GRAPEVINE_FUZZ_SEED ?? 20_240_601);
export const UDP_PACKETS = Number(process.env.GRAPEVINE_FUZZ_PACKETS ?? 200_000);
export const TCP_FRAMES = 2_000;
/**
 * Growth allowed (MB), for the JS heap and for ArrayBuffer memory each, between a settled baseline
 * (cluster formed) and the settled end (after a forced GC; without one, young-generation garbage
 * alone can be tens of MB, hence the margin). What may legitimately stay: members the unencrypted
 * run's accepted mutations invent (at most limits.maxMembers = 10,000 per node, three nodes in this
 * process; in practice a few dozen), queued broadcasts (at most maxQueuedBroadcasts = 4,096 per
 * node), the replay cache (only authenticated envelopes, i.e. legitimate traffic), the test's own
 * counters. Anything retained per packet fails it: 200,000 packets × 320 bytes is 64 MB. Measured
 * growth is about 1 MB.
 */
export const HEAP_BOUND_MB = 64;
export const FAST = { profile: 'fast', probeInterval: 250, probeTimeout: 100, suspicionMult: 2, gossipInterval: 50 } as const;
export const LABEL = 'fuzz';

// ---- helpers --------------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failure can be replayed with GRAPEVINE_FUZZ_SEED. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const gc: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const f = runInNewContext('gc') as unknown;
    return typeof f === 'function' ? (f as () => void) : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * heapUsed and arrayBuffers (MB: datagrams and frames live in ArrayBuffers outside the JS heap)
 * after letting timers run and collecting garbage a few times.
 */
export async function settledMemoryMb(): Promise<{ heap: number; buffers: number }> {
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 50));
    gc?.();
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed / 2 ** 20, buffers: m.arrayBuffers / 2 ** 20 };
}

export async function waitFor(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type Verdict = string; // a drop reason, or 'accepted'

/** 127.0.0.0/8 with a port: where test nodes may send. */
const LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}$/;

/**
 * A Transport around UdpTcpTransport that sees every inbound envelope before the node does:
 * captures legitimate ones for the corpus, classifies every one with a reference pipeline (in
 * arrival order) and counts what threw out of the node's receiver.
 *
 * It also keeps the test on loopback: in the clear, accepted mutations invent members at garbage
 * addresses ("12wn0.0.1:34043", "127.p.0.1:41785"), which the nodes then probe; a real node would
 * send those probes (and look the names up in DNS). Here sends to anything but 127.x.x.x:port are
 * dropped and counted (`blocked`). Every node of the test runs on a Tap.
 */
export class Tap implements Transport {
  readonly inner: UdpTcpTransport;
  readonly fuzzSources = new Set<string>();
  readonly expected = new Map<Verdict, number>();
  readonly legitVerdicts = new Map<Verdict, number>();
  readonly fuzzVerdicts = new Map<Verdict, number>();
  corpusUdp: Uint8Array[] = [];
  corpusTcp: Uint8Array[] = [];
  capturing = true;
  fuzzUdp = 0;
  fuzzTcp = 0;
  thrown = 0;
  blocked = 0;
  classify: (data: Uint8Array) => Verdict[] = () => [];

  constructor() {
    this.inner = new UdpTcpTransport({ bind: '127.0.0.1:0', readTimeout: 400 });
  }

  get packetBudget(): number {
    return this.inner.packetBudget;
  }
  get address(): string {
    return this.inner.address;
  }
  get stats(): UdpTcpTransport['stats'] {
    return this.inner.stats;
  }

  start(receiver: TransportReceiver): Promise<void> {
    return this.inner.start({
      onMessage: (data: Uint8Array, info: InboundInfo) => {
        const fuzz = this.fuzzSources.has(info.from);
        if (fuzz) {
          if (info.reliable) this.fuzzTcp++;
          else this.fuzzUdp++;
        } else if (this.capturing) {
          const corpus = info.reliable ? this.corpusTcp : this.corpusUdp;
          if (corpus.length < 400) corpus.push(Uint8Array.from(data));
        }
        for (const v of this.classify(data)) {
          this.expected.set(v, (this.expected.get(v) ?? 0) + 1);
          const m = fuzz ? this.fuzzVerdicts : this.legitVerdicts;
          m.set(v, (m.get(v) ?? 0) + 1);
        }
        try {
          receiver.onMessage(data, info);
        } catch {
          this.thrown++;
        }
      },
    });
  }

  sendPacket(to: string, data: Uint8Array): void {
    if (LOOPBACK.test(to)) this.inner.sendPacket(to, data);
    else this.blocked++;
  }
  sendReliable(to: string, data: Uint8Array): Promise<void> {
    if (LOOPBACK.test(to)) return this.inner.sendReliable(to, data);
    this.blocked++;
    return Promise.reject(new GrapevineError('ERR_UNREACHABLE', `test: ${to} is not on loopback`));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
