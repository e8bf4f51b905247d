import { GrapevineError } from '@grapevine/core';
import { Peer, type Pending, type PeerLink } from './peer.js';

export interface PeerLinksHooks {
  /** This transport's identity for tie-breaks: its advertised URL, a space, its instance id. */
  selfId(): string;
  /** Its advertised URL alone. */
  selfUrl(): string;
  maxBufferedBytes: number;
  onDuplicateClosed(): void;
  onBufferOverflow(): void;
  /** Start dialing `peer.key`; the transport calls dialSucceeded or dialFailed (maybe at once). */
  dial(peer: Peer): void;
}

const MAX_ALIASES = 4096;

/**
 * Which link carries the sends to which peer.
 *
 * Peers are keyed by their canonical advertised URL. A dial to another URL of the same peer (a seed
 * given by IP, say) is remembered as an alias once the peer's hello names its advertised URL.
 * When two links to one peer exist, both ends keep the same one without talking about it:
 *  - a link from a newer instance of the peer (it restarted) replaces the old link;
 *  - of one link dialed by each side (simultaneous dial), the one dialed by the side with the
 *    smaller id (advertised URL, then instance id) stays;
 *  - of two links we dialed, the first stays; of two the peer dialed, we keep using the first and
 *    hold the second as a spare, and the peer (the dialer) closes one.
 * A losing link is closed gracefully. If it carried our sends, new sends wait until its close
 * completed — everything written to it was delivered before that — so the order of messages to one
 * peer survives the switch.
 */
export class PeerLinks {
  private readonly peers = new Map<string, Peer>();
  private readonly aliases = new Map<string, string>();

  constructor(private readonly hooks: PeerLinksHooks) {}

  /** Sends one message to the peer at `url` (canonical), dialing when there is no link. */
  submit(url: string, message: Buffer): Promise<void> {
    const key = this.aliases.get(url) ?? url;
    const existing = this.peers.get(key);
    const ready = existing?.link;
    if (existing !== undefined && ready?.usable === true && existing.draining === undefined && existing.queue.length === 0) {
      return new Promise((resolve, reject) => this.write(ready, { message, resolve, reject }));
    }
    const peer = existing ?? this.peerFor(key);
    if (peer.queuedBytes + message.byteLength > this.hooks.maxBufferedBytes) {
      this.hooks.onBufferOverflow();
      this.forgetIfIdle(peer);
      return Promise.reject(overLimit(message.byteLength, peer.queuedBytes, this.hooks.maxBufferedBytes));
    }
    const promise = new Promise<void>((resolve, reject) => peer.enqueue({ message, resolve, reject }));
    if (mayDial(peer)) this.hooks.dial(peer);
    return promise;
  }

  /** Dials `url` (canonical) with nothing to send when no link, dial or expected inbound exists; true when a dial started. */
  prepare(url: string): boolean {
    const key = this.aliases.get(url) ?? url;
    const existing = this.peers.get(key);
    if (existing !== undefined && !mayDial(existing)) return false;
    const peer = existing ?? this.peerFor(key);
    this.hooks.dial(peer);
    // Not dialing: refused at once (a backoff after a failed dial, the connection limit).
    return peer.dialing;
  }

  /**
   * An inbound connection's upgrade request says it comes from `url` (canonical); its hello has not
   * arrived yet. Until it does (or the connection closes), sends to that peer wait for it rather
   * than dial a connection of their own — which would only end as a duplicate.
   */
  expectInbound(url: string, link: PeerLink): void {
    const key = this.aliases.get(url) ?? url;
    const peer = this.peerFor(key);
    link.expectedBy = peer;
    peer.expected.add(link);
    // Both sides dialed at once. The link dialed by the smaller id stays (see loser()); when that is
    // the peer's, finishing ours would only make a duplicate to close, so stop it now. (Distinct
    // URLs decide the tie-break alone: the id is the URL, a space, then the instance.)
    if (peer.dialing && peer.link === undefined && url < this.hooks.selfUrl()) peer.abortDial?.();
  }

  /** Our dial was stopped because the peer's connection arrived: its queue waits for that one. */
  dialSuperseded(peer: Peer): void {
    peer.endDial();
    this.service(peer);
  }

  /** An inbound link finished its hello. */
  attach(link: PeerLink): void {
    const expectedBy = this.unexpect(link);
    if (link.peerUrl !== undefined) this.place(this.peerFor(link.peerUrl), link);
    // The hello named another peer than the upgrade request: the waiting sends dial after all.
    if (expectedBy !== undefined && expectedBy.link === undefined) this.service(expectedBy);
  }

  /** An inbound link said hello but will not carry sends: sends that waited for it dial now. */
  unexpected(link: PeerLink): void {
    const peer = this.unexpect(link);
    if (peer !== undefined) this.service(peer);
  }

  /** Forgets that sends wait for `link`; returns the peer entry that waited, if any. */
  private unexpect(link: PeerLink): Peer | undefined {
    const peer = link.expectedBy;
    if (peer === undefined) return undefined;
    link.expectedBy = undefined;
    peer.expected.delete(link);
    return peer;
  }

  dialSucceeded(peer: Peer, link: PeerLink): void {
    peer.endDial();
    let target = peer;
    const url = link.peerUrl;
    if (url !== undefined && url !== peer.key) {
      this.alias(peer.key, url);
      target = this.peerFor(url);
      for (const p of peer.takeQueue()) target.enqueue(p);
      this.forgetIfIdle(peer);
    }
    this.place(target, link);
    this.service(target);
  }

  dialFailed(peer: Peer, err: Error): void {
    peer.endDial();
    // An inbound link from the peer may have arrived meanwhile and taken the queue.
    if (peer.link?.usable !== true) this.failQueue(peer, err);
    this.service(peer);
  }

  /** A link closed: sends move to a spare, or wait for a dial on the next send. */
  detach(link: PeerLink, live: boolean): void {
    const waited = this.unexpect(link);
    if (waited !== undefined) {
      if (live) this.service(waited);
      else this.forgetIfIdle(waited);
    }
    const peer = link.owner;
    if (peer === undefined) return;
    peer.links.delete(link);
    if (peer.draining === link) peer.draining = undefined;
    if (peer.link === link) peer.link = peer.bestSpare();
    if (live) this.service(peer);
    else this.forgetIfIdle(peer);
  }

  /** Closes the least recently used link that carries sends; false when there is none. */
  evictLeastRecentlyUsed(): boolean {
    let oldest: PeerLink | undefined;
    for (const peer of this.peers.values()) {
      for (const l of peer.links) if (l.usable && (oldest === undefined || l.lastUsed < oldest.lastUsed)) oldest = l;
    }
    if (oldest?.owner === undefined) return false;
    this.retireFromPeer(oldest.owner, oldest, 'connection limit');
    return true;
  }

  /** Closes `link` gracefully, moving the sends of its peer (if it carried them) to a spare or a new dial. */
  retire(link: PeerLink, reason: string): Promise<void> {
    if (link.owner === undefined) return link.retire(1000, reason);
    this.retireFromPeer(link.owner, link, reason);
    return link.whenClosed;
  }

  failAll(err: Error): void {
    for (const peer of this.peers.values()) this.failQueue(peer, err);
  }

  clear(): void {
    this.peers.clear();
    this.aliases.clear();
  }

  private place(peer: Peer, link: PeerLink): void {
    link.owner = peer;
    peer.links.add(link);
    const current = peer.link;
    if (current === undefined || !current.usable) {
      peer.link = link;
      this.flush(peer);
      return;
    }
    const loser = this.loser(current, link);
    if (loser === undefined) return; // a spare
    this.hooks.onDuplicateClosed();
    this.retireFromPeer(peer, loser, 'duplicate connection');
    if (peer.link === undefined) peer.link = link;
    this.flush(peer);
  }

  private loser(current: PeerLink, incoming: PeerLink): PeerLink | undefined {
    if (current.peer?.instance !== incoming.peer?.instance) return current;
    if (current.outbound !== incoming.outbound) {
      const selfFirst = this.hooks.selfId() < `${incoming.peerUrl ?? ''} ${incoming.peer?.instance ?? ''}`;
      // Keep the link dialed by the smaller id: ours (outbound) when we are the smaller one.
      return current.outbound === selfFirst ? incoming : current;
    }
    return current.outbound ? incoming : undefined;
  }

  /** Stops sending on `link` and closes it gracefully; later sends wait for it if it carried ours. */
  private retireFromPeer(peer: Peer, link: PeerLink, reason: string): void {
    if (peer.link === link) {
      peer.link = peer.bestSpare(link);
      if (link.usedForSend) peer.draining = link;
    }
    void link.retire(1000, reason);
  }

  private service(peer: Peer): void {
    if (peer.draining === undefined) {
      if (peer.link?.usable === true) this.flush(peer);
      else if (peer.link === undefined && mayDial(peer) && peer.queue.length > 0) this.hooks.dial(peer);
    }
    this.forgetIfIdle(peer);
  }

  private flush(peer: Peer): void {
    const link = peer.link;
    if (link === undefined || !link.usable || peer.draining !== undefined) return;
    for (const p of peer.takeQueue()) this.write(link, p);
  }

  private write(link: PeerLink, p: Pending): void {
    const buffered = link.bufferedAmount;
    if (buffered + p.message.byteLength > this.hooks.maxBufferedBytes) {
      this.hooks.onBufferOverflow();
      p.reject(overLimit(p.message.byteLength, buffered, this.hooks.maxBufferedBytes));
      return;
    }
    link.write(p.message);
    p.resolve();
  }

  private failQueue(peer: Peer, err: Error): void {
    for (const p of peer.takeQueue()) p.reject(err);
  }

  private peerFor(key: string): Peer {
    let peer = this.peers.get(key);
    if (peer === undefined) {
      peer = new Peer(key);
      this.peers.set(key, peer);
    }
    return peer;
  }

  private forgetIfIdle(peer: Peer): void {
    if (peer.idle && this.peers.get(peer.key) === peer) this.peers.delete(peer.key);
  }

  private alias(from: string, to: string): void {
    this.aliases.delete(from);
    this.aliases.set(from, to);
    if (this.aliases.size > MAX_ALIASES) {
      const oldest = this.aliases.keys().next().value;
      if (oldest !== undefined) this.aliases.delete(oldest);
    }
  }
}

/** No link, no dial running, no retired link draining and no inbound connection about to say hello. */
function mayDial(peer: Peer): boolean {
  return peer.link === undefined && !peer.dialing && peer.draining === undefined && peer.expected.size === 0;
}

function overLimit(size: number, buffered: number, limit: number): GrapevineError {
  return new GrapevineError('ERR_LIMIT', `ws connection holds ${buffered} unsent bytes; ${size} more would pass maxBufferedBytes (${limit})`);
}
