/**
 * Placement: which nodes own a key.
 *
 * Keys hash (xxHash32) into a fixed number of partitions (`partitions`, default 8192), and each
 * partition is placed by rendezvous (highest-random-weight) hashing: every live node gets a score
 * for the partition, and the `replicas` highest-scoring nodes own it, best first. Why this scheme
 * rather than virtual nodes on a circle:
 *  - balance: with P partitions a node's share is binomial(P, 1/N); at P = 8192 and N = 10 the
 *    standard deviation of primaries per node is 3.3% of the mean (1.9% counting all three
 *    replicas), where 128 virtual nodes per node on a circle give about 9%
 *    (the figures are in docs/kv.md, measured by this package's tests and bench);
 *  - movement: a join moves exactly the partitions whose top-RF set the new node enters (RF/(N+1)
 *    of the replica placements, 1/(N+1) of the primaries), a leave moves only the departed node's;
 *    nothing else is reshuffled, which is the theoretical minimum;
 *  - the unit of transfer and of anti-entropy digests is the partition, a natural bucket.
 * Scores are mix32(nodeSeed, partition) with nodeSeed = xxHash32(name): deterministic, so every node
 * computes the same placement from the same member list, with no coordination.
 *
 * Zone awareness: with a zone in each member's metadata (key `zoneKey`), the owners are picked
 * best-score-first but skipping nodes whose zone is already used, until every zone has one; only
 * then are the remaining places filled by score. So replicas sit in distinct zones whenever there
 * are at least RF zones, and in as many zones as exist otherwise.
 */
import { mix32, type Hasher } from './hash.js';

export interface RingMember {
  readonly name: string;
  /** '' when the member has no zone. */
  readonly zone: string;
}

export class Ring {
  /** Members in name order. */
  readonly members: readonly RingMember[];
  private readonly table: string[][];
  private readonly byName = new Set<string>();

  constructor(
    private readonly hasher: Hasher,
    readonly partitions: number,
    readonly replicas: number,
    members: readonly RingMember[],
  ) {
    const sorted = [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.members = sorted;
    for (const m of sorted) this.byName.add(m.name);
    const seeds = sorted.map((m) => hasher.str(m.name, 0x6b76));
    const rf = Math.min(replicas, sorted.length);
    const zoneCount = new Set(sorted.map((m) => m.zone)).size;
    this.table = new Array<string[]>(partitions);
    const scores = new Array<number>(sorted.length);
    const order = sorted.map((_, i) => i);
    for (let p = 0; p < partitions; p++) {
      for (let i = 0; i < sorted.length; i++) scores[i] = mix32(seeds[i]!, p);
      const owners: string[] = [];
      if (rf === 0) {
        this.table[p] = owners;
        continue;
      }
      if (rf === 1 || zoneCount <= 1) {
        // Plain rendezvous: partial selection of the top rf scores (ties broken by name order).
        const picked = topK(scores, rf);
        for (const i of picked) owners.push(sorted[i]!.name);
      } else {
        order.sort((a, b) => scores[b]! - scores[a]! || a - b);
        const usedZones = new Set<string>();
        const taken = new Set<number>();
        for (const i of order) {
          if (owners.length >= rf || usedZones.size >= zoneCount) break;
          const z = sorted[i]!.zone;
          if (usedZones.has(z)) continue;
          usedZones.add(z);
          taken.add(i);
          owners.push(sorted[i]!.name);
        }
        for (const i of order) {
          if (owners.length >= rf) break;
          if (!taken.has(i)) owners.push(sorted[i]!.name);
        }
      }
      this.table[p] = owners;
    }
  }

  /** The partition a key hashes to. */
  partitionOf(key: string): number {
    return this.hasher.str(key) % this.partitions;
  }

  /** The owners of a partition, best first (the first is the primary). */
  ownersOf(partition: number): readonly string[] {
    return this.table[partition] ?? [];
  }

  /** The owners of a key, best first. */
  owners(key: string): readonly string[] {
    return this.ownersOf(this.partitionOf(key));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  isOwner(name: string, partition: number): boolean {
    return this.ownersOf(partition).includes(name);
  }

  /** Partitions that `name` owns (any rank). */
  partitionsOf(name: string): number[] {
    const out: number[] = [];
    for (let p = 0; p < this.partitions; p++) if (this.table[p]!.includes(name)) out.push(p);
    return out;
  }
}

/** Indices of the k largest scores, largest first; equal scores keep index order. */
function topK(scores: readonly number[], k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    let pos = out.length;
    while (pos > 0 && scores[out[pos - 1]!]! < s) pos--;
    if (pos < k) {
      out.splice(pos, 0, i);
      if (out.length > k) out.pop();
    }
  }
  return out;
}
