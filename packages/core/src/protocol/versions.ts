/**
 * Version checks: which peers this node agrees to run with. Every alive message and push-pull
 * carries the sender's wire protocol version and application version. A peer outside the protocol
 * range, or one the user's compatibility hook refuses, is never added to the membership: its join
 * is answered with a refusal and the reason, and gossip about it is ignored (logged once).
 */
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './messages.js';

export interface VersionInfo {
  readonly protocol: number;
  /** The application version ('' when unset). */
  readonly app: string;
}

/**
 * Decide whether a remote node may join this node's cluster: true (or undefined) to accept, false
 * or a reason string to refuse. Called once per remote (name, version) pair; keep it pure.
 */
export type CompatibilityCheck = (local: VersionInfo, remote: VersionInfo & { readonly name: string }) => boolean | string | undefined;

export class VersionGate {
  private readonly verdicts = new Map<string, string | null>();

  constructor(
    readonly local: VersionInfo,
    private readonly hook: CompatibilityCheck | undefined,
    private readonly onRefuse: (name: string, reason: string) => void,
    private readonly maxCached: number,
  ) {}

  /** null when compatible, else the reason for refusing. */
  check(name: string, protocol: number, app: string): string | null {
    // Without a hook an accepted verdict is one range test: nothing is cached for it. (The cache
    // held a key string and a map entry per member, ~80 bytes, on every node: docs/scale.md#memory.)
    // Refusals still go through the cache, so each is logged once.
    if (!this.hook && protocol >= MIN_PROTOCOL_VERSION && protocol <= PROTOCOL_VERSION) return null;
    const key = `${name}\u0000${protocol}\u0000${app}`;
    const cached = this.verdicts.get(key);
    if (cached !== undefined) return cached;
    const reason = this.decide(name, protocol, app);
    if (this.verdicts.size >= this.maxCached) this.verdicts.clear();
    this.verdicts.set(key, reason);
    if (reason !== null) this.onRefuse(name, reason);
    return reason;
  }

  private decide(name: string, protocol: number, app: string): string | null {
    if (protocol < MIN_PROTOCOL_VERSION || protocol > PROTOCOL_VERSION) {
      return `protocol version ${protocol} of ${name} is outside ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`;
    }
    if (!this.hook) return null;
    let verdict: boolean | string | undefined;
    try {
      verdict = this.hook(this.local, { name, protocol, app });
    } catch (err) {
      return `compatibility check threw: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (verdict === true || verdict === undefined) return null;
    if (typeof verdict === 'string' && verdict.length > 0) return verdict.slice(0, 256);
    return `application version "${app}" of ${name} is incompatible with "${this.local.app}"`;
  }
}
