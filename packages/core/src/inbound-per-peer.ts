/**
 * Counts open inbound connections per remote IP (shared by the TCP and WebSocket transports), so one host cannot take every slot of
 * `maxConnections` and lock the real members out. Keyed by the exact address: an IPv6 host with a
 * whole prefix can still spread over many keys, which only the total limit bounds; keying by prefix
 * instead would lump together every node of an ordinary /64 data-centre subnet.
 */
export class InboundPerPeer {
  private readonly open = new Map<string, number>();

  /**
   * @param max most inbound connections from one IP; 0 turns the cap off.
   * @param exemptLoopback loopback sources are not capped: every node on this host shares that
   *   address (tests, benchmarks, several agents per machine), and a local process is already past
   *   any network boundary.
   */
  constructor(
    readonly max: number,
    private readonly exemptLoopback: boolean,
  ) {}

  /** Takes a slot for a connection from `ip`; false when that IP is at the cap. Release each slot taken once. */
  tryAcquire(ip: string): boolean {
    if (this.max === 0) return true;
    const key = peerKey(ip);
    if (this.exemptLoopback && isLoopback(key)) return true;
    const n = this.open.get(key) ?? 0;
    if (n >= this.max) return false;
    this.open.set(key, n + 1);
    return true;
  }

  release(ip: string): void {
    if (this.max === 0) return;
    const key = peerKey(ip);
    const n = this.open.get(key);
    if (n === undefined) return; // exempt, or never counted
    if (n <= 1) this.open.delete(key);
    else this.open.set(key, n - 1);
  }

  /** Open connections counted for `ip` (for tests and diagnostics). */
  count(ip: string): number {
    return this.open.get(peerKey(ip)) ?? 0;
  }
}

/** Dotted-quad IPv4, as sockets report remote addresses (no shorthand forms reach here). */
const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;

/** One key per host: a dual-stack server sees IPv4 peers as "::ffff:a.b.c.d". */
function peerKey(ip: string): string {
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && IPV4.test(lower.slice(7))) return lower.slice(7);
  return lower;
}

function isLoopback(key: string): boolean {
  return key === '::1' || (IPV4.test(key) && key.startsWith('127.'));
}
