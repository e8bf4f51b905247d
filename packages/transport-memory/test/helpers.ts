import type { InboundInfo } from '@grapevine/core';
import { MemoryNetwork, VirtualClock, type MemoryNetworkOptions, type MemoryTransport } from '@grapevine/transport-memory';

export interface Received {
  at: number;
  to: string;
  from: string;
  reliable: boolean;
  text: string;
}

/** A network on a fresh clock starting at 0, and a log of everything any started node received. */
export function setup(options: Partial<MemoryNetworkOptions> = {}) {
  const clock = new VirtualClock({ start: 0 });
  const net = new MemoryNetwork({ clock, seed: 1, ...options });
  const inbox: Received[] = [];
  const decoder = new TextDecoder();
  async function node(address?: string): Promise<MemoryTransport> {
    const t = net.createTransport(address);
    await t.start({
      onMessage(data: Uint8Array, info: InboundInfo) {
        inbox.push({ at: clock.now(), to: t.address, from: info.from, reliable: info.reliable, text: decoder.decode(data) });
      },
    });
    return t;
  }
  return { clock, net, inbox, node };
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
