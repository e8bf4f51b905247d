/**
 * Transports move opaque byte strings between addresses. They know nothing of the protocol.
 *
 * Addresses are strings: "host:port" ("[v6]:port" for IPv6). A transport may accept other forms
 * (a WebSocket URL, say) as long as it prints its own address in a form it also accepts.
 */

/** What a transport tells its owner about an inbound message. */
export interface InboundInfo {
  /** The remote address as the socket saw it. Not trusted for replies: messages carry their own. */
  readonly from: string;
  /** True when the bytes arrived over the reliable path (a TCP frame, say). */
  readonly reliable: boolean;
}

export interface TransportReceiver {
  /** Called for every datagram or reliable frame. Must not throw; the transport guards anyway. */
  onMessage(data: Uint8Array, info: InboundInfo): void;
  /**
   * Optional: true when `address` (a peer's advertised address, as members carry it) belongs to a
   * member this node believes alive or suspect. A transport that learns peers' advertised addresses
   * (the WebSocket hello) uses it to reap and evict connections from peers that never became
   * members, so they cannot hold its connection slots. Cheap enough to call per connection; never
   * throws. The Cluster provides it; a receiver without it makes transports skip those rules.
   */
  isMember?(address: string): boolean;
}

/** Best-effort, size-limited packets (UDP). */
export interface PacketTransport {
  /** Largest payload sendPacket carries; anything larger goes over the reliable path. */
  readonly packetBudget: number;
  /** The address to advertise to peers; valid once start() resolved. */
  readonly address: string;
  start(receiver: TransportReceiver): Promise<void>;
  /** Fire and forget: never throws, never rejects. Failures are counted by the transport. */
  sendPacket(to: string, data: Uint8Array): void;
  close(): Promise<void>;
}

/** A transport with both a best-effort and a reliable path: what a Cluster runs on. */
export interface Transport extends PacketTransport {
  /**
   * Deliver `data` as one message over the reliable path. Resolves when handed to the connection,
   * rejects when the peer cannot be reached (refused, timed out) or the message is over the limit.
   */
  sendReliable(to: string, data: Uint8Array): Promise<void>;
  /**
   * Optional hint: messages to `to` are likely soon (the cluster calls it when a member appears).
   * A transport that pays a handshake per peer may open its connection now, so the first message
   * does not wait for it. Best effort: never throws, and may do nothing.
   */
  connect?(to: string): void;
}

/** Counters every transport keeps; the benchmark harness and the metrics endpoint read them. */
export interface TransportStats {
  packetsSent: number;
  packetBytesSent: number;
  packetsReceived: number;
  reliableSent: number;
  reliableBytesSent: number;
  reliableReceived: number;
  connectionsOpened: number;
  sendErrors: number;
  /** Inbound data dropped by the transport itself (oversize frame, bad length prefix ...). */
  dropped: number;
}

export function emptyTransportStats(): TransportStats {
  return {
    packetsSent: 0, packetBytesSent: 0, packetsReceived: 0,
    reliableSent: 0, reliableBytesSent: 0, reliableReceived: 0,
    connectionsOpened: 0, sendErrors: 0, dropped: 0,
  };
}
