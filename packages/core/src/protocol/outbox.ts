/**
 * The send side: encode a message, pack piggybacked updates up to the packet budget, and choose
 * the path (UDP-sized packets best-effort, anything larger reliable).
 */
import type { Limits } from '../limits.js';
import { COMPOUND_OVERHEAD, COMPOUND_PART_OVERHEAD, MAX_PART_BYTES } from '../wire/envelope.js';
import type { WirePipeline } from '../wire/pipeline.js';
import type { BroadcastQueue } from './broadcast-queue.js';

/** What Outbox takes piggybacked parts from: the membership queue, then the application queue. */
export interface PartSource {
  readonly size: number;
  take(budget: number, perPartOverhead: number, maxParts: number, limit: number): Uint8Array[];
}
import { toWire, type Message } from './messages.js';
import type { NodeEnv } from './node-env.js';

export class Outbox {
  /** Header and stage bytes around every body (label, nonce, tag ...). */
  private readonly overhead: number;
  /** Application broadcasts; they ride only in the space membership updates leave. */
  userQueue: PartSource | undefined;
  /**
   * Whether updates may ride on what goes to an address: only a member's or a seed's. An address
   * that never answered gets the bare message, so a forged `fromAddr` cannot turn a small ping into
   * a packet-budget-sized reply at someone else's address.
   */
  piggybackTo: (addr: string) => boolean = () => true;
  /** Adds this node's view digest to pings and acks (view-sync.ts); unset: messages go as given. */
  stamp: ((msg: Message) => Message) | undefined;

  constructor(
    private readonly env: NodeEnv,
    private readonly wire: WirePipeline,
    private readonly queue: BroadcastQueue,
    private readonly packetBudget: number,
    private readonly limits: Limits,
    private readonly retransmitLimit: () => number,
  ) {
    this.overhead = wire.overhead;
  }

  encode(msg: Message): Uint8Array {
    return this.env.codec.encode(toWire(this.stamp ? this.stamp(msg) : msg));
  }

  /** Wrap parts in an envelope, adding piggybacked broadcasts while they fit. */
  private pack(parts: Uint8Array[], piggyback: boolean): Uint8Array {
    if (piggyback) {
      let used = this.overhead + COMPOUND_OVERHEAD;
      for (const p of parts) used += COMPOUND_PART_OVERHEAD + p.length;
      const extra = this.takePiggyback(this.packetBudget - used, Math.min(255, this.limits.maxCompoundParts) - parts.length);
      if (extra.length > 0) parts = parts.concat(extra);
    }
    return this.wire.seal(parts);
  }

  /** Membership updates first (they keep the cluster correct), then application broadcasts. */
  private takePiggyback(budget: number, maxParts: number): Uint8Array[] {
    const limit = this.retransmitLimit();
    const out = this.queue.take(budget, COMPOUND_PART_OVERHEAD, maxParts, limit);
    const uq = this.userQueue;
    if (uq && uq.size > 0) {
      let used = 0;
      for (const p of out) used += COMPOUND_PART_OVERHEAD + p.length;
      const more = uq.take(budget - used, COMPOUND_PART_OVERHEAD, maxParts - out.length, limit);
      for (const p of more) out.push(p);
    }
    return out;
  }

  /** True when a part alone fits in a best-effort packet. */
  fitsPacket(part: Uint8Array): boolean {
    return this.overhead + part.length <= this.packetBudget && part.length <= MAX_PART_BYTES;
  }

  /** One encoded part best-effort, with piggybacked updates (the caller checked it fits). */
  sendPart(to: string, part: Uint8Array): void {
    this.env.sendPacket(to, this.pack([part], this.piggybackTo(to)));
  }

  /** One encoded part over the reliable path, alone in its envelope. */
  sendPartReliable(to: string, part: Uint8Array): Promise<void> {
    return this.env.sendReliable(to, this.wire.seal([part]));
  }

  /**
   * Many small parts to one address, no piggyback: in as few packets as they fit in, or, when they
   * would fill more than `burstPackets` packets, over the reliable path in compound frames of up to
   * 255 parts. A burst then costs one write instead of dozens of datagrams, and can't be lost to a
   * full socket receive buffer, which is where bursts of datagrams die first.
   */
  pushParts(to: string, parts: readonly Uint8Array[], burstPackets = 8): void {
    this.pushPartsTo([to], parts, burstPackets);
  }

  /**
   * pushParts to each of `targets`. Without encryption the same parts seal to the same bytes, so
   * each packet is sealed once and sent to every target (an origin pushing to all of a small
   * cluster sealed one copy per member); with it, every envelope gets its own nonce.
   */
  pushPartsTo(targets: readonly string[], parts: readonly Uint8Array[], burstPackets = 8): void {
    if (targets.length === 0) return;
    const room = this.packetBudget - this.overhead - COMPOUND_OVERHEAD;
    const maxParts = Math.min(255, this.limits.maxCompoundParts);
    let total = 0;
    for (const p of parts) total += COMPOUND_PART_OVERHEAD + p.length;
    const reliable = total > room * burstPackets;
    // The envelopes' parts: up to 255 per reliable frame, or as many as fit each packet.
    const batches: Uint8Array[][] = [];
    let batch: Uint8Array[] = [];
    let used = 0;
    for (const p of parts) {
      const cost = COMPOUND_PART_OVERHEAD + p.length;
      if (reliable ? batch.length >= maxParts : batch.length > 0 && (used + cost > room || batch.length >= maxParts)) {
        batches.push(batch);
        batch = [];
        used = 0;
      }
      batch.push(p);
      used += cost;
    }
    if (batch.length > 0) batches.push(batch);
    const sealed = this.wire.deterministic ? batches.map((b) => this.wire.seal(b)) : undefined;
    // Target by target, each one's envelopes in order, as when each was pushed to alone.
    for (const to of targets) {
      for (let i = 0; i < batches.length; i++) {
        const data = sealed ? sealed[i]! : this.wire.seal(batches[i]!);
        if (!reliable) this.env.sendPacket(to, data);
        else this.env.sendReliable(to, data).catch(() => this.env.metrics.increment('grapevine.broadcast.push-failed'));
      }
    }
  }

  /**
   * Send one message best-effort with piggybacked updates; if it alone exceeds the packet budget,
   * send it reliably instead (errors counted, not thrown).
   */
  send(to: string, msg: Message, piggyback = true): void {
    const part = this.encode(msg);
    if (this.overhead + part.length > this.packetBudget) {
      this.sendReliableParts(to, [part]).catch(() => this.env.metrics.increment('grapevine.send.reliable-failed'));
      return;
    }
    this.env.sendPacket(to, this.pack([part], piggyback && this.piggybackTo(to)));
  }

  /** Send over the reliable path; rejects when the peer cannot be reached. */
  sendReliable(to: string, msg: Message, piggyback = false): Promise<void> {
    return this.sendReliableParts(to, [this.encode(msg)], piggyback);
  }

  private sendReliableParts(to: string, parts: Uint8Array[], wanted = false): Promise<void> {
    const piggyback = wanted && this.piggybackTo(to);
    // A single part can be any size up to the frame limit; compound parts are u16-sized.
    const data = parts.length === 1 && (!piggyback || parts[0]!.length > MAX_PART_BYTES)
      ? this.wire.seal(parts)
      : this.pack(parts, piggyback);
    return this.env.sendReliable(to, data);
  }

  /** One gossip packet of queued broadcasts only; false when there was nothing to send. */
  gossip(to: string): boolean {
    const parts = this.takePiggyback(this.packetBudget - this.overhead - COMPOUND_OVERHEAD, Math.min(255, this.limits.maxCompoundParts));
    if (parts.length === 0) return false;
    this.env.sendPacket(to, this.wire.seal(parts));
    return true;
  }
}
