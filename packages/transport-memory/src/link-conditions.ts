import { GrapevineError } from '@grapevine/core';

/** Matches any address in setLoss/setDelay/setInboundLoss. */
export const ANY = '*';

interface Cut {
  readonly from: ReadonlySet<string>;
  readonly to: ReadonlySet<string>;
  /** A two-way cut also blocks to → from. */
  readonly twoWay: boolean;
}

export interface LinkDelay {
  ms: number;
  jitter: number | undefined;
}

function probability(p: number, what: string): number {
  if (!(p >= 0 && p <= 1)) throw new GrapevineError('ERR_INVALID_OPTION', `${what}: probability must be in [0, 1], got ${p}`);
  return p;
}

/**
 * The faults and latencies the network applies per link. A link-specific setting beats one with a
 * wildcard ('*') source or destination, which beats the network default. Lookups are on every
 * message, so the common case (nothing set) costs one size check.
 */
export class LinkConditions {
  private readonly loss = new LinkTable<number>();
  private readonly delay = new LinkTable<LinkDelay>();
  private readonly inboundLoss = new Map<string, number>();
  private cuts: Cut[] = [];
  private readonly isolated = new Set<string>();

  setLoss(from: string, to: string, p: number): void {
    this.loss.set(from, to, probability(p, 'setLoss'));
  }

  setInboundLoss(address: string, p: number): void {
    this.inboundLoss.set(address, probability(p, 'setInboundLoss'));
  }

  setDelay(from: string, to: string, ms: number, jitter?: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new GrapevineError('ERR_INVALID_OPTION', `setDelay: bad delay ${ms}`);
    if (jitter !== undefined && (!(jitter >= 0) || !Number.isFinite(jitter))) {
      throw new GrapevineError('ERR_INVALID_OPTION', `setDelay: bad jitter ${jitter}`);
    }
    this.delay.set(from, to, { ms, jitter });
  }

  /** Loss probability for a best-effort packet on from → to, or 0. */
  lossFor(from: string, to: string): number {
    return this.loss.size === 0 ? 0 : (this.loss.lookup(from, to) ?? 0);
  }

  inboundLossFor(to: string): number {
    if (this.inboundLoss.size === 0) return 0;
    return this.inboundLoss.get(to) ?? this.inboundLoss.get(ANY) ?? 0;
  }

  delayFor(from: string, to: string): LinkDelay | undefined {
    return this.delay.size === 0 ? undefined : this.delay.lookup(from, to);
  }

  cut(from: Iterable<string>, to: Iterable<string>, twoWay: boolean): void {
    this.cuts.push({ from: new Set(from), to: new Set(to), twoWay });
  }

  isolate(address: string): void {
    this.isolated.add(address);
  }

  /** Remove every partition and isolation (loss and delay settings stay). */
  heal(): void {
    this.cuts = [];
    this.isolated.clear();
  }

  /** Whether a message from → to gets through the partitions. A node always reaches itself. */
  reachable(from: string, to: string): boolean {
    if (from === to) return true;
    if (this.isolated.size > 0 && (this.isolated.has(from) || this.isolated.has(to))) return false;
    for (const c of this.cuts) {
      if (c.from.has(from) && c.to.has(to)) return false;
      if (c.twoWay && c.from.has(to) && c.to.has(from)) return false;
    }
    return true;
  }
}

/**
 * Per-link settings keyed by source, then destination. A lookup is on every message, so it must
 * not build a key string per call (a `from + to` key cost a concatenation and a hash for each of
 * the four wildcard tries, per packet, whenever any loss was set).
 */
class LinkTable<V> {
  private readonly bySource = new Map<string, Map<string, V>>();
  size = 0;

  set(from: string, to: string, v: V): void {
    let m = this.bySource.get(from);
    if (m === undefined) this.bySource.set(from, (m = new Map()));
    if (!m.has(to)) this.size++;
    m.set(to, v);
  }

  /** The most specific setting: from → to, then from → '*', then '*' → to, then '*' → '*'. */
  lookup(from: string, to: string): V | undefined {
    const exact = this.bySource.get(from);
    if (exact !== undefined) {
      const v = exact.get(to) ?? exact.get(ANY);
      if (v !== undefined) return v;
    }
    const any = this.bySource.get(ANY);
    return any === undefined ? undefined : (any.get(to) ?? any.get(ANY));
  }
}
