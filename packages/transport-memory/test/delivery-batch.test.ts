/**
 * The network batches deliveries per arrival instant and copies small packets into shared slabs.
 * Neither may change what a receiver sees: order, bytes, or the fate of the rest of a batch.
 */
import { describe, expect, it } from 'vitest';
import { MemoryNetwork, VirtualClock } from '@grapevine/transport-memory';
import { PacketCopier, SLAB_BYTES, SLAB_MAX_PACKET } from '../src/packet-copy.js';
import { bytes, setup } from './helpers.js';

describe('batched delivery', () => {
  it('delivers messages due at one instant in send order, both paths mixed', async () => {
    const { clock, inbox, node } = setup();
    const a = await node();
    const b = await node();
    const c = await node();
    for (let i = 0; i < 50; i++) {
      const from = i % 2 === 0 ? a : c;
      if (i % 3 === 0) await from.sendReliable(b.address, bytes(`m${i}`));
      else from.sendPacket(b.address, bytes(`m${i}`));
    }
    await clock.advance(1);
    expect(inbox.map((m) => m.text)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });

  it('a message sent on a zero-delay link while a batch drains arrives after that batch', async () => {
    const { clock, inbox, net, node } = setup();
    const a = await node();
    const b = await node();
    const relay = net.createTransport();
    net.setDelay(relay.address, '*', 0);
    await relay.start({ onMessage: (data) => relay.sendPacket(b.address, data) });
    a.sendPacket(relay.address, bytes('via-relay'));
    a.sendPacket(b.address, bytes('direct'));
    await clock.advance(1);
    expect(inbox.map((m) => m.text)).toEqual(['direct', 'via-relay']);
    expect(inbox.every((m) => m.at === 1)).toBe(true);
  });

  it('an onEvent hook that throws loses no other message of the batch, and the clock counts it', async () => {
    let calls = 0;
    const { clock, inbox, node } = setup({
      onEvent: (ev) => {
        if (ev.kind === 'delivered' && ++calls === 2) throw new Error('hook failed');
      },
    });
    const a = await node();
    const b = await node();
    for (let i = 0; i < 4; i++) a.sendPacket(b.address, bytes(`p${i}`));
    await clock.advance(1);
    // The second delivery's hook threw before the receiver saw it; the others still arrived.
    expect(inbox.map((m) => m.text)).toEqual(['p0', 'p2', 'p3']);
    expect(clock.errors).toBe(1);
  });

  it("with flush 'timer', promise continuations run between two deliveries of one instant", async () => {
    const clock = new VirtualClock({ start: 0, flush: 'timer' });
    const net = new MemoryNetwork({ clock, seed: 1 });
    const log: string[] = [];
    const a = net.createTransport();
    const b = net.createTransport();
    await a.start({ onMessage: () => undefined });
    await b.start({
      onMessage: (data) => {
        const text = new TextDecoder().decode(data);
        log.push(text);
        void Promise.resolve().then(() => log.push(`after ${text}`));
      },
    });
    a.sendPacket(b.address, bytes('x'));
    a.sendPacket(b.address, bytes('y'));
    await clock.advance(1);
    expect(log).toEqual(['x', 'after x', 'y', 'after y']);
  });
});

describe('PacketCopier', () => {
  it('hands out independent, non-overlapping, 8-byte aligned copies across slab boundaries', () => {
    const copier = new PacketCopier();
    const copies: { view: Uint8Array; fill: number }[] = [];
    let total = 0;
    for (let i = 0; total < 3 * SLAB_BYTES; i++) {
      const len = 1 + ((i * 977) % SLAB_MAX_PACKET);
      const src = new Uint8Array(len).fill(i & 255);
      const view = copier.copy(src);
      src.fill(0xee); // the sender reusing its buffer must not change the copy
      copies.push({ view, fill: i & 255 });
      total += len;
      expect(view.byteOffset % 8).toBe(0);
      expect(view.byteLength).toBe(len);
    }
    for (const { view, fill } of copies) expect(view.every((x) => x === fill)).toBe(true);
  });

  it('gives a packet larger than the slab limit its own buffer', () => {
    const big = new Uint8Array(SLAB_MAX_PACKET + 1).fill(3);
    const copy = new PacketCopier().copy(big);
    expect(copy.byteOffset).toBe(0);
    expect(copy.buffer.byteLength).toBe(SLAB_MAX_PACKET + 1);
    expect(copy.every((x) => x === 3)).toBe(true);
  });
});
