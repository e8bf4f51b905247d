/**
 * Who a node eagerly pushes a broadcast to: its children in an f-ary tree laid over the sorted
 * list of live members, rooted at the message's origin.
 *
 * Every node computes the tree from its own membership view, so with agreeing views each member
 * receives the eager push exactly once and the whole cluster is covered in ceil(log_f N) hops,
 * instead of the e^-f miss rate (and f duplicates per node) of random push. Views that disagree
 * (a join or failure still spreading) or lost packets leave holes; the piggyback queue's random
 * gossip, which every receiver also feeds, fills them. Nodes that don't know the origin fall back to
 * f random peers.
 */
export function treeChildren(sorted: readonly string[], self: string, origin: string, fanout: number): string[] | null {
  const n = sorted.length;
  const iSelf = indexOf(sorted, self);
  const iOrigin = indexOf(sorted, origin);
  if (iSelf < 0 || iOrigin < 0) return null;
  const pos = (iSelf - iOrigin + n) % n;
  const out: string[] = [];
  for (let c = pos * fanout + 1; c <= pos * fanout + fanout && c < n; c++) {
    out.push(sorted[(iOrigin + c) % n]!);
  }
  return out;
}

/**
 * The fan-out of the eager push for a cluster of `live` members (self included): the whole rest of
 * the cluster when that is at most `directMax`, else `fanout`. With a fan-out of live − 1 the tree
 * has the origin as its only inner node, so every member gets the push straight from the origin:
 * the same live − 1 packets in total as the tree, in one hop instead of ceil(log_f N) — each hop
 * being a send and a receive on a later turn of the receiver's event loop. Relays then have no
 * children and push nothing; the piggyback queue still repairs what a lost packet misses.
 */
export function pushFanout(live: number, fanout: number, directMax: number): number {
  return live - 1 <= directMax ? Math.max(fanout, live - 1) : fanout;
}

/** Binary search in a sorted array of distinct names. */
function indexOf(sorted: readonly string[], name: string): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === name) return mid;
    if (v < name) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Default hop limit for an N-node cluster: generous above the tree depth, for the repair gossip. */
export function hopLimit(n: number): number {
  return Math.min(255, Math.ceil(Math.log2(n + 1)) + 4);
}
