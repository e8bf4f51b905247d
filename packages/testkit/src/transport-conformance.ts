import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseHostPort, type PacketTransport, type Transport } from '@grapevine/core';
import { bytesEqual, patternBytes, patternSeed } from './bytes.js';
import { DEFAULT_WAIT_MS, withDeadline } from './deadline.js';
import { Inbox, type ReceivedMessage } from './inbox.js';

/** Two transports that can reach each other, not yet started: the suite starts them with its own receivers. */
export interface TransportPair<T extends PacketTransport> {
  a: T;
  b: T;
  /** Runs after both transports are closed (stop a simulated network, say). */
  cleanup?: () => Promise<void>;
}

export interface ConformanceOptions {
  /** Upper bound for every wait (ms). Default 5000. */
  timeoutMs?: number;
  /**
   * Packets arrive with `from` equal to the sender's `address` (true of UDP and in-memory; a
   * connection-oriented transport reports its connection's ephemeral port instead).
   */
  packetFromIsSenderAddress?: boolean;
}

interface Harness<T extends PacketTransport> {
  a: T;
  b: T;
  inboxA: Inbox;
  inboxB: Inbox;
}

type Settings = Required<ConformanceOptions>;

/** Larger budgets are tested at this size, so a transport claiming an enormous budget does not stall the suite. */
const MAX_TESTED_PACKET = 16 * 1024 * 1024;

/** Addresses that are malformed or cannot be sent to; transports must count them, never throw. */
const BAD_ADDRESSES = ['', 'no-port', 'host:notaport', 'host:99999', '[::1', 'a b:1', '127.0.0.1:0'];

/** The suite for best-effort packet transports (UDP). */
export function packetTransportConformance(
  name: string,
  factory: () => Promise<TransportPair<PacketTransport>>,
  options: ConformanceOptions = {},
): void {
  describe(`${name}: packet transport conformance`, () => {
    const harness = useHarness(factory);
    packetCases(harness, settingsFrom(options));
  });
}

/** The suite for full transports: the packet cases plus the reliable path. */
export function transportConformance(
  name: string,
  factory: () => Promise<TransportPair<Transport>>,
  options: ConformanceOptions = {},
): void {
  describe(`${name}: transport conformance`, () => {
    const harness = useHarness(factory);
    const settings = settingsFrom(options);
    packetCases(harness, settings);
    reliableCases(harness, settings);
  });
}

function settingsFrom(options: ConformanceOptions): Settings {
  return {
    timeoutMs: options.timeoutMs ?? DEFAULT_WAIT_MS,
    packetFromIsSenderAddress: options.packetFromIsSenderAddress ?? false,
  };
}

function useHarness<T extends PacketTransport>(factory: () => Promise<TransportPair<T>>): () => Harness<T> {
  let current: (Harness<T> & { cleanup: (() => Promise<void>) | undefined }) | undefined;
  beforeEach(async () => {
    const pair = await factory();
    // Recorded before starting, so a failed start still gets closed.
    current = { a: pair.a, b: pair.b, inboxA: new Inbox(), inboxB: new Inbox(), cleanup: pair.cleanup };
    await current.a.start(current.inboxA);
    await current.b.start(current.inboxB);
  });
  afterEach(async () => {
    const h = current;
    current = undefined;
    if (h === undefined) return;
    await Promise.all([h.a.close(), h.b.close()]);
    await h.cleanup?.();
  });
  return () => {
    if (current === undefined) throw new Error('transport pair not set up');
    return current;
  };
}

function packetCases<T extends PacketTransport>(harness: () => Harness<T>, s: Settings): void {
  it('delivers packets both ways and names the sender in `from`', async () => {
    const { a, b, inboxA, inboxB } = harness();
    const ab = patternBytes(64, 1);
    const ba = patternBytes(64, 2);
    a.sendPacket(b.address, ab);
    b.sendPacket(a.address, ba);
    await Promise.all([inboxB.waitForCount(1, s.timeoutMs), inboxA.waitForCount(1, s.timeoutMs)]);
    for (const [message, sent, sender] of [[first(inboxB), ab, a], [first(inboxA), ba, b]] as const) {
      expect(bytesEqual(message.data, sent)).toBe(true);
      expect(() => parseHostPort(message.from)).not.toThrow();
      expect(typeof message.reliable).toBe('boolean');
      if (s.packetFromIsSenderAddress) expect(message.from).toBe(sender.address);
    }
  });

  it('carries a packet of packetBudget bytes intact', async () => {
    const { a, b, inboxB } = harness();
    const data = patternBytes(Math.min(b.packetBudget, MAX_TESTED_PACKET), 3);
    a.sendPacket(b.address, data);
    await inboxB.waitForCount(1, s.timeoutMs);
    expect(bytesEqual(first(inboxB).data, data)).toBe(true);
  });

  it('never throws from sendPacket to a bad address and keeps delivering', async () => {
    const { a, b, inboxB } = harness();
    for (const bad of BAD_ADDRESSES) expect(() => a.sendPacket(bad, patternBytes(16, 4))).not.toThrow();
    const data = patternBytes(16, 5);
    a.sendPacket(b.address, data);
    await inboxB.waitUntil(() => inboxB.messages.some((m) => bytesEqual(m.data, data)), s.timeoutMs, 'the good packet');
  });

  it('keeps delivering packets after the receiver throws', async () => {
    const { a, b, inboxB } = harness();
    inboxB.afterRecord = () => {
      throw new Error('receiver failure the transport must contain');
    };
    a.sendPacket(b.address, patternBytes(32, 6));
    await inboxB.waitForCount(1, s.timeoutMs);
    inboxB.afterRecord = undefined;
    const later = patternBytes(32, 7);
    a.sendPacket(b.address, later);
    await inboxB.waitForCount(2, s.timeoutMs);
    expect(bytesEqual(at(inboxB, 1).data, later)).toBe(true);
  });

  it('closes idempotently; sendPacket after close does not throw', async () => {
    const { a, b } = harness();
    const target = b.address;
    await withDeadline(Promise.all([a.close(), a.close()]), s.timeoutMs, 'close()');
    await withDeadline(a.close(), s.timeoutMs, 'a second close()');
    expect(() => a.sendPacket(target, patternBytes(8, 8))).not.toThrow();
  });
}

function reliableCases<T extends Transport>(harness: () => Harness<T>, s: Settings): void {
  it('delivers reliable messages both ways, flagged reliable', async () => {
    const { a, b, inboxA, inboxB } = harness();
    const ab = patternBytes(100, 11);
    const ba = patternBytes(100, 12);
    await withDeadline(Promise.all([a.sendReliable(b.address, ab), b.sendReliable(a.address, ba)]), s.timeoutMs, 'sendReliable');
    await Promise.all([inboxB.waitForCount(1, s.timeoutMs), inboxA.waitForCount(1, s.timeoutMs)]);
    for (const [message, sent] of [[first(inboxB), ab], [first(inboxA), ba]] as const) {
      expect(bytesEqual(message.data, sent)).toBe(true);
      expect(message.reliable).toBe(true);
      expect(() => parseHostPort(message.from)).not.toThrow();
    }
  });

  it('keeps the order of reliable messages to one peer', async () => {
    const { a, b, inboxB } = harness();
    const count = 200;
    const sent = Array.from({ length: count }, (_, i) => patternBytes(4 + ((i * 37) % 3000), i));
    await withDeadline(Promise.all(sent.map((m) => a.sendReliable(b.address, m))), s.timeoutMs, 'sendReliable');
    await inboxB.waitForCount(count, s.timeoutMs);
    expect(inboxB.messages.map((m) => patternSeed(m.data))).toEqual(sent.map((_, i) => i));
  });

  it('delivers 1,000 reliable messages intact', async () => {
    const { a, b, inboxB } = harness();
    const count = 1000;
    const sent = Array.from({ length: count }, (_, i) => patternBytes(4 + ((i * 131) % 1500), i));
    await withDeadline(Promise.all(sent.map((m) => a.sendReliable(b.address, m))), s.timeoutMs, 'sendReliable');
    await inboxB.waitForCount(count, s.timeoutMs);
    expect(inboxB.messages).toHaveLength(count);
    const seen = new Set<number>();
    for (const m of inboxB.messages) {
      const seed = patternSeed(m.data);
      const original = sent[seed];
      expect(original !== undefined && bytesEqual(m.data, original), `message ${seed} intact`).toBe(true);
      seen.add(seed);
    }
    expect(seen.size).toBe(count);
  });

  it('delivers a 1 MiB reliable message intact', async () => {
    const { a, b, inboxB } = harness();
    const data = patternBytes(1024 * 1024, 13);
    await withDeadline(a.sendReliable(b.address, data), s.timeoutMs, 'sendReliable of 1 MiB');
    await inboxB.waitForCount(1, s.timeoutMs);
    expect(bytesEqual(first(inboxB).data, data)).toBe(true);
  });

  it('rejects sendReliable to a peer that is gone', async () => {
    const { a, b } = harness();
    const target = b.address;
    await b.close();
    await expectRejection(a.sendReliable(target, patternBytes(16, 14)), ['ERR_UNREACHABLE', 'ERR_CLOSED'], s);
  });

  it('rejects sendReliable to a malformed address', async () => {
    const { a } = harness();
    await expectRejection(a.sendReliable('not an address', patternBytes(16, 15)), ['ERR_INVALID_ADDRESS', 'ERR_UNREACHABLE'], s);
  });

  it('keeps delivering reliable messages after the receiver throws', async () => {
    const { a, b, inboxB } = harness();
    inboxB.afterRecord = () => {
      throw new Error('receiver failure the transport must contain');
    };
    await a.sendReliable(b.address, patternBytes(32, 16));
    await inboxB.waitForCount(1, s.timeoutMs);
    inboxB.afterRecord = undefined;
    const later = patternBytes(32, 17);
    await a.sendReliable(b.address, later);
    await inboxB.waitForCount(2, s.timeoutMs);
    expect(bytesEqual(at(inboxB, 1).data, later)).toBe(true);
  });

  it('rejects sendReliable after close with ERR_CLOSED, never synchronously', async () => {
    const { a, b } = harness();
    const target = b.address;
    await Promise.all([a.close(), a.close()]);
    let pending: Promise<void> | undefined;
    expect(() => {
      pending = a.sendReliable(target, patternBytes(8, 18));
    }).not.toThrow();
    await expectRejection(pending ?? Promise.resolve(), ['ERR_CLOSED'], s);
  });
}

/** Awaits `promise` (bounded) and checks it rejected with a GrapevineError carrying one of `codes`. */
async function expectRejection(promise: Promise<unknown>, codes: string[], s: Settings): Promise<void> {
  const outcome = await withDeadline(
    promise.then(
      () => ({ rejected: false, error: undefined as unknown }),
      (error: unknown) => ({ rejected: true, error }),
    ),
    s.timeoutMs,
    'a rejection',
  );
  expect(outcome.rejected, 'expected a rejection').toBe(true);
  const error = outcome.error as { name?: unknown; code?: unknown };
  // Matched by name, not instanceof: a transport may load its own copy of @grapevine/core.
  expect(error.name).toBe('GrapevineError');
  expect(codes).toContain(error.code);
}

function first(inbox: Inbox): ReceivedMessage {
  return at(inbox, 0);
}

function at(inbox: Inbox, index: number): ReceivedMessage {
  const message = inbox.messages[index];
  if (message === undefined) throw new Error(`no message #${index}`);
  return message;
}
