import { formatRemoteAddress, parseDialAddress, type HostPort } from '@grapevine/core';

/**
 * Parsed destination addresses, so the send path does not re-parse the same few strings for every
 * packet. Failures are cached too. Bounded: a stream of distinct addresses must not grow memory.
 */
export class AddressCache {
  private readonly entries = new Map<string, HostPort | undefined>();

  constructor(private readonly capacity = 4096) {}

  /** The parsed address, or undefined when `address` is not an "ip:port" a send may go to (see parseDialAddress). */
  resolve(address: string): HostPort | undefined {
    if (this.entries.has(address)) return this.entries.get(address);
    let parsed: HostPort | undefined;
    try {
      parsed = parseDialAddress(address, 'udp: cannot send to');
    } catch {
      parsed = undefined;
    }
    if (this.entries.size >= this.capacity) {
      // Maps iterate in insertion order: forget the oldest entry.
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(address, parsed);
    return parsed;
  }
}

/**
 * The "ip:port" name of a datagram's sender, by address and port, so the receive path does not
 * format (and allocate) the same few strings for every datagram. Bounded like AddressCache: a
 * flood from many ports empties it and it starts over (cheaper than keeping an age order).
 */
export class SenderNames {
  private readonly byHost = new Map<string, Map<number, string>>();
  private size = 0;

  constructor(private readonly capacity = 4096) {}

  format(address: string, port: number): string {
    let ports = this.byHost.get(address);
    const known = ports?.get(port);
    if (known !== undefined) return known;
    const name = formatRemoteAddress(address, port);
    if (this.size >= this.capacity) {
      this.byHost.clear();
      this.size = 0;
      ports = undefined;
    }
    if (!ports) this.byHost.set(address, (ports = new Map()));
    ports.set(port, name);
    this.size++;
    return name;
  }
}
