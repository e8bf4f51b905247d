/**
 * Which connection gives up its slot when the transport is at maxConnections. Membership is the
 * test where the receiver can answer it (the Cluster's isMember hook, by advertised address);
 * without it, a connection that carried nothing either way after its hello counts as unproductive.
 */
import type { TransportReceiver } from '@grapevine/core';
import type { PeerLink } from './peer.js';

/**
 * Whether the link's peer is a member, by the receiver's isMember (undefined when the receiver
 * cannot tell, or the link is still without a hello or is our own dial to ourselves).
 */
export function peerIsMember(link: PeerLink, receiver: TransportReceiver | undefined, ownInstance: string): boolean | undefined {
  const ask = receiver?.isMember;
  if (ask === undefined || link.peerUrl === undefined || link.peer?.instance === ownInstance) return undefined;
  try {
    return ask.call(receiver, link.peerUrl);
  } catch {
    return undefined;
  }
}

/**
 * The oldest unproductive link: an inbound one still without a hello, else one whose peer is not
 * a member (without isMember: one that carried no message either way after the hello).
 * `links` iterates in creation order (a Set), so the first match is the oldest.
 */
export function findUnproductive(links: Iterable<PeerLink>, receiver: TransportReceiver | undefined, ownInstance: string): PeerLink | undefined {
  const hasHook = receiver?.isMember !== undefined;
  for (const link of links) {
    if (link.state === 'retiring' || link.state === 'closed') continue;
    // Our own dials still saying hello are not candidates: they are short-lived and wanted.
    if (link.state === 'handshaking' && link.outbound) continue;
    const unproductive = link.state === 'handshaking' || (hasHook ? peerIsMember(link, receiver, ownInstance) === false : !link.delivered && !link.usedForSend);
    if (unproductive) return link;
  }
  return undefined;
}
