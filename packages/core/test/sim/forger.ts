/**
 * An outsider on the simulated network: a transport of its own that speaks the wire format of an
 * unencrypted cluster, so a test can send forged protocol messages exactly as they would arrive
 * from a host that is not a member.
 */
import { defaultLimits, jsonCodec, toWire, WirePipeline, type Message } from '@grapevine/core';
import type { MemoryTransport } from '@grapevine/transport-memory';
import type { Sim } from './harness.js';

export class Forger {
  readonly transport: MemoryTransport;
  private readonly wire: WirePipeline;
  /** Bytes this outsider has sent (both paths). */
  bytesSent = 0;

  constructor(sim: Sim, address = '10.250.0.1:7946') {
    this.transport = sim.net.createTransport(address);
    this.wire = new WirePipeline({ codecId: jsonCodec.id, clock: sim.clock, limits: defaultLimits, compressThreshold: 1 << 30 });
  }

  async start(): Promise<this> {
    await this.transport.start({ onMessage: () => undefined });
    return this;
  }

  /** One envelope (compound when several) holding `msgs`; returns its size in bytes. */
  encode(msgs: readonly Message[]): Uint8Array {
    return this.wire.seal(msgs.map((m) => jsonCodec.encode(toWire(m))));
  }

  packet(to: string, msgs: readonly Message[]): number {
    const data = this.encode(msgs);
    this.bytesSent += data.length;
    this.transport.sendPacket(to, data);
    return data.length;
  }

  async reliable(to: string, msgs: readonly Message[]): Promise<number> {
    const data = this.encode(msgs);
    this.bytesSent += data.length;
    await this.transport.sendReliable(to, data);
    return data.length;
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
