/**
 * Keeps a running cluster's seeds current: resolves the configured seeds (DNS included) and joins
 * them, re-resolves every `seedRefreshInterval` and at once when a member goes dead or leaves,
 * hands every change to `cluster.setSeeds()` (what healing re-contacts), and joins addresses no
 * member has yet — from DNS or from multicast announcements. Stops when the cluster leaves or closes.
 */
import type { Cluster, EncryptionOptions, Logger } from '@grapevine/core';
import { SeedRefresher, type MulticastDiscovery, type MulticastStats, type SeedChange } from '@grapevine/discovery';
import { createMulticast, type MulticastOption } from './multicast-option.js';
import { ClusterSeeds, type CheckedSeed, type SeedDnsOptions } from './seeds.js';

/** The default of createCluster's `seedRefreshInterval`: DNS seeds are looked up again every 30 s. */
export const DEFAULT_SEED_REFRESH_INTERVAL = 30_000;
/** While the node is alone, DNS is asked again after 1 s, doubling up to the refresh interval. */
const ALONE_FIRST_RETRY = 1000;
/** Multicast announcements are in memory already: collect them this often (at most). */
const MULTICAST_POLL = 1000;

/** The discovery running for each cluster createCluster made (for /metrics). */
const running = new WeakMap<Cluster, SeedDiscovery>();

/** Multicast discovery counters of a cluster made with the `multicast` option, else undefined. */
export function multicastStats(cluster: Cluster): Readonly<MulticastStats> | undefined {
  return running.get(cluster)?.multicastDiscovery?.stats;
}

export interface SeedDiscoveryOptions {
  seeds: readonly CheckedSeed[];
  dns?: SeedDnsOptions | undefined;
  refreshInterval: number;
  multicast?: MulticastOption | undefined;
  /** The cluster's wire encryption: multicast announcements are sealed with it. */
  encryption?: Pick<EncryptionOptions, 'cipher' | 'keyring'> | undefined;
  label?: string | undefined;
  logger: Logger;
}

export class SeedDiscovery {
  private readonly cluster: Cluster;
  private readonly logger: Logger;
  private readonly interval: number;
  private readonly seeds: ClusterSeeds;
  private readonly refresher: SeedRefresher | undefined;
  private readonly multicast: MulticastDiscovery | undefined;
  private readonly multicastRefresher: SeedRefresher | undefined;
  /** Seeds from the configured list and DNS, and from multicast, in the transport's address form. */
  private configured: string[] = [];
  private discovered: string[] = [];
  /** Addresses a join is under way to (so overlapping refreshes don't join them twice). */
  private readonly joining = new Set<string>();
  private readonly unsubscribe: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private aloneDelay = ALONE_FIRST_RETRY;
  private started = false;
  private stopping: Promise<void> | undefined;

  private constructor(cluster: Cluster, o: SeedDiscoveryOptions) {
    this.cluster = cluster;
    this.logger = o.logger;
    this.interval = o.refreshInterval;
    const self = cluster.localNode.address;
    this.seeds = new ClusterSeeds(o.seeds, self, { ...(o.dns !== undefined ? { dns: o.dns } : {}), logger: o.logger });
    if (o.seeds.length > 0) {
      this.refresher = new SeedRefresher({
        provider: this.seeds,
        interval: this.interval,
        onChange: (c) => this.onConfiguredChange(c),
        logger: o.logger,
      });
    }
    if (o.multicast !== undefined) {
      this.multicast = createMulticast(o.multicast, cluster.name, self, o.label, o.encryption, o.logger);
      this.multicastRefresher = new SeedRefresher({
        provider: this.multicast,
        interval: Math.min(MULTICAST_POLL, o.multicast.announceInterval ?? MULTICAST_POLL),
        onChange: (c) => this.onMulticastChange(c),
        logger: o.logger,
      });
    }
  }

  /**
   * Resolve and join the configured seeds (resolves once the join succeeded or gave up), then keep
   * discovering in the background until the cluster leaves or closes.
   */
  static async start(cluster: Cluster, options: SeedDiscoveryOptions): Promise<SeedDiscovery> {
    const d = new SeedDiscovery(cluster, options);
    running.set(cluster, d);
    d.hookClusterShutdown();
    d.multicastRefresher?.start();
    if (d.refresher !== undefined) {
      const first = await d.refresher.refresh();
      d.configured = first;
      d.applySeeds();
      if (first.length > 0) {
        await d.join(first, 'warn');
      } else if (!d.isStopped()) {
        d.logger.warn({ seeds: d.seeds.name }, 'no seed address resolved yet; will keep resolving and join when one answers');
      }
      if (d.seeds.dynamic) {
        d.unsubscribe.push(cluster.on('dead', () => d.refreshNow()), cluster.on('left', () => d.refreshNow()));
        d.schedule();
      }
    }
    d.started = true;
    return d;
  }

  /** Stop timers and lookups and close the multicast socket (saying goodbye). Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      for (const off of this.unsubscribe.splice(0)) off();
      this.refresher?.stop();
      this.multicastRefresher?.stop();
      await Promise.allSettled([this.seeds.close(), this.multicast?.close()]);
    })();
    return this.stopping;
  }

  /** The MulticastDiscovery, when the `multicast` option is on (its `stats` and `peers()`). */
  get multicastDiscovery(): MulticastDiscovery | undefined {
    return this.multicast;
  }

  private isStopped(): boolean {
    return this.stopping !== undefined || this.cluster.closed;
  }

  /**
   * Cluster has no close hook, so its leave() and close() are wrapped on this instance: discovery
   * must stop with the node (no lookups, no joins, the multicast goodbye sent, the socket closed)
   * and close() resolves only once it has. leave() calls close() itself.
   */
  private hookClusterShutdown(): void {
    const cluster = this.cluster;
    const close = cluster.close.bind(cluster);
    const leave = cluster.leave.bind(cluster);
    cluster.leave = (opts) => {
      void this.stop();
      return leave(opts);
    };
    cluster.close = async () => {
      await this.stop();
      await close();
    };
  }

  private refreshNow(): void {
    if (this.isStopped() || this.refresher === undefined) return;
    void this.refresher.refresh();
  }

  /** Next lookup: every interval, or sooner (1 s, doubling) while the node has found no one. */
  private schedule(): void {
    if (this.isStopped() || this.refresher === undefined) return;
    let delay = this.interval;
    if (this.alone()) {
      delay = Math.min(this.interval, this.aloneDelay);
      this.aloneDelay = Math.min(this.aloneDelay * 2, this.interval);
    } else {
      this.aloneDelay = ALONE_FIRST_RETRY;
    }
    const refresher = this.refresher;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void refresher.refresh().finally(() => this.schedule());
    }, delay);
    this.timer.unref(); // discovery never keeps a process alive by itself
  }

  private alone(): boolean {
    return this.cluster.members({ state: ['alive', 'suspect'] }).length <= 1;
  }

  private onConfiguredChange(change: SeedChange): void {
    // The first answer, inside start(), is applied and joined there.
    if (!this.started || this.isStopped()) return;
    this.configured = change.seeds;
    this.logger.info({ seeds: change.seeds, added: change.added, removed: change.removed }, 'seed addresses changed');
    this.applySeeds();
    void this.join(this.unknown(change.added), 'debug');
  }

  private onMulticastChange(change: SeedChange): void {
    if (this.isStopped()) return;
    this.discovered = this.seeds.toAddresses(change.seeds);
    this.applySeeds();
    const added = this.seeds.toAddresses(change.added);
    if (added.length > 0) this.logger.info({ peers: added }, 'multicast discovery heard new peers');
    void this.join(this.unknown(added), 'debug');
  }

  private applySeeds(): void {
    if (this.isStopped()) return;
    this.cluster.setSeeds([...new Set([...this.configured, ...this.discovered])]);
  }

  /** Of `addresses`, those no live member has and no join is under way to. */
  private unknown(addresses: readonly string[]): string[] {
    const known = new Set(this.cluster.members({ state: ['alive', 'suspect'] }).map((m) => m.address));
    return addresses.filter((a) => !known.has(a) && !this.joining.has(a));
  }

  private async join(addresses: string[], level: 'warn' | 'debug'): Promise<void> {
    if (addresses.length === 0 || this.isStopped()) return;
    for (const a of addresses) this.joining.add(a);
    try {
      const answered = await this.cluster.join(addresses);
      this.logger.debug({ seeds: addresses, answered }, 'joined through seeds');
    } catch (err) {
      if (this.isStopped()) return;
      const msg = level === 'warn' ? 'initial join failed; will keep trying the seeds' : 'could not join discovered seeds; healing keeps trying them';
      this.logger[level]({ seeds: addresses, err }, msg);
    } finally {
      for (const a of addresses) this.joining.delete(a);
    }
  }
}
