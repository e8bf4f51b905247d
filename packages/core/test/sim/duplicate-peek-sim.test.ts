/**
 * Duplicate broadcast copies dropped by their header (Codec.peekArray) before the payload is
 * decoded: the same seeded run with and without the peek delivers and counts the same, only with
 * fewer decodes; and a header alone (a forged one with a bad payload) never marks an id seen.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEnvelope, jsonCodec, type Codec } from '@grapevine/core';
import { msgpackCodec } from '@grapevine/codec-msgpack';
import { Sim } from './harness.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.shutdown();
  sim = undefined;
});

const T = 200;

/** `codec` with its decodes counted, and with its peek or without one. */
function counting(codec: Codec, withPeek: boolean): { codec: Codec; decodes: () => number } {
  let decodes = 0;
  const c: Codec = {
    id: codec.id,
    name: codec.name,
    encode: (v) => codec.encode(v),
    decode: (b) => {
      decodes++;
      return codec.decode(b);
    },
    frameArray: codec.frameArray?.bind(codec),
    ...(withPeek ? { peekArray: codec.peekArray!.bind(codec) } : {}),
  };
  return { codec: c, decodes: () => decodes };
}

const COUNTERS = [
  'grapevine.broadcast.duplicate', 'grapevine.broadcast.stale', 'grapevine.broadcast.relayed', 'grapevine.broadcast.hop-limit',
  'grapevine.drop.invalid', 'grapevine.drop.decode', 'grapevine.user.unhandled',
];

interface RunResult { delivered: string[]; counters: number[]; decodes: number }

async function lossyRun(codec: Codec, decodes: () => number): Promise<RunResult> {
  const s = (sim = new Sim({ seed: 21, options: { profile: 'lan', pushPullInterval: 0, codec } }));
  await s.startCluster(16);
  expect(await s.runUntil(() => s.converged(), 20_000)).toBe(true);
  const delivered: string[] = [];
  for (const n of s.nodes) n.cluster.handle<{ i: number }>(T, (p, info) => delivered.push(`${n.name}<${info.from}:${p.i}`));
  s.net.setInboundLoss('*', 0.1);
  const before = decodes();
  for (let i = 0; i < 40; i++) s.nodes[i % 4]!.cluster.broadcast(T, { i, pad: 'x'.repeat(i * 10) });
  await s.clock.advance(5_000);
  const result = { delivered, counters: COUNTERS.map((c) => s.totalCounter(c)), decodes: decodes() - before };
  await s.shutdown();
  sim = undefined;
  return result;
}

describe('duplicate broadcast copies dropped by their header', () => {
  it.each([['json', jsonCodec], ['msgpack', msgpackCodec]] as const)('%s: the same run with and without the peek delivers and counts the same; each refused copy is a decode saved', async (_name, base) => {
    const plain = counting(base, false);
    const peeked = counting(base, true);
    const a = await lossyRun(plain.codec, plain.decodes);
    const b = await lossyRun(peeked.codec, peeked.decodes);
    expect(b.delivered).toEqual(a.delivered);
    expect(b.counters).toEqual(a.counters);
    expect(new Set(a.delivered).size).toBe(a.delivered.length); // once per node each
    expect(a.delivered.length).toBe(40 * 15); // every other node got every message
    const refused = a.counters[0]! + a.counters[1]!;
    expect(refused).toBeGreaterThan(100); // the redundancy at work
    expect(a.decodes - b.decodes).toBe(refused);
  }, 120_000);

  it('a forged header with a bad payload is dropped and suppresses nothing; later copies of the genuine one are refused unread', async () => {
    const s = (sim = new Sim({ seed: 22, options: { codec: msgpackCodec } }));
    await s.startCluster(2);
    expect(await s.runUntil(() => s.converged(), 10_000)).toBe(true);
    const [a, b] = s.nodes as [typeof s.nodes[0], typeof s.nodes[0]];
    const got: unknown[] = [];
    b.cluster.handle(T, (p) => got.push(p));
    const raw = s.net.createTransport('10.9.9.9:7946');
    await raw.start({ onMessage: () => {} });
    const send = (part: Uint8Array): void => raw.sendPacket(b.transport.address, encodeEnvelope(msgpackCodec.id, [part]));
    const id = 123_456_789;
    const frame = msgpackCodec.frameArray!([9, 1, T, a.name, id, 1])!;
    // The header of a genuine-looking message, then a byte msgpack never uses (0xc1).
    const forged = Uint8Array.from([...frame.before, 0xc1]);
    const count = (name: string): number => b.metrics.counter(`grapevine.${name}`);

    send(forged);
    await s.clock.advance(10);
    expect(count('drop.decode')).toBe(1);
    expect(count('broadcast.duplicate')).toBe(0);
    expect(got).toEqual([]);

    // A header the peek reads but parseUserMessage refuses (hops over 255) is decoded and refused.
    send(msgpackCodec.encode([9, 1, T, a.name, id, 300, 'x']));
    await s.clock.advance(10);
    expect(count('drop.invalid')).toBe(1);

    send(msgpackCodec.encode([9, 1, T, a.name, id, 1, { genuine: true }]));
    await s.clock.advance(10);
    expect(got).toEqual([{ genuine: true }]);

    // Now the id is seen: the same forged bytes are a duplicate, dropped before their payload.
    send(forged);
    send(msgpackCodec.encode([9, 1, T, a.name, id, 1, { genuine: true }]));
    await s.clock.advance(10);
    expect(count('broadcast.duplicate')).toBe(2);
    expect(count('drop.decode')).toBe(1);
    expect(got).toEqual([{ genuine: true }]);
    await raw.close();
  });
});
