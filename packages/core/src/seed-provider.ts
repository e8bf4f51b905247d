/**
 * Where a cluster finds seeds: a static list, DNS, multicast announcements ... The cluster asks
 * every provider at join and again periodically and after losing members, so seeds whose
 * addresses change (restarted pods) are found again.
 */
export interface SeedProvider {
  /** For logs: "static", "dns://db.internal:7946", "multicast 239.0.0.1:7946" ... */
  readonly name: string;
  /**
   * Current seed addresses ("host:port", or a transport's own form such as a ws:// URL).
   * Rejects only on a permanent misconfiguration; a temporary miss resolves with [] and logs.
   */
  resolve(signal?: AbortSignal): Promise<string[]>;
  /** Release sockets or timers the provider holds. */
  close?(): Promise<void>;
}
