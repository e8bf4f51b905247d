/**
 * Join, anti-entropy and healing: the push-pulls a node starts. Join is a push-pull with every
 * seed; one extra push-pull after joining repairs what gossip missed; a periodic one repairs the
 * rest; healing re-contacts seeds and recently dead members so partitions merge by themselves.
 *
 * Measured and left out: holding the post-join push-pull and digest-triggered push-pulls back
 * while a node is still learning new members (a mass join). It saved push-pulls at N=500, but a
 * 40-node join through one seed with pushPullMaxMembers 8 then left a pair unrepaired for over
 * 60 s more often: for 8 of 16 seeds with the post-join push-pull held back, against 4 of 16
 * without (the states it brings mid-formation are re-gossiped and help the epidemic); holding
 * back only the digest push-pulls failed 4 of 16 too, but among them the test suite's own seed.
 */
import type { ProtocolConfig } from '../config.js';
import type { TimerHandle } from '../clock.js';
import { GrapevineError } from '../errors.js';
import { randomInt } from '../random.js';
import { sampleFrom } from './indexed-set.js';
import { allFinal, joinError } from './join-failure.js';
import type { MemberRecord, Membership } from './membership.js';
import type { NodeEnv } from './node-env.js';
import type { PushPullExchange } from './push-pull.js';
import type { ViewDigest } from './view-digest.js';

export interface AntiEntropyParts {
  readonly env: NodeEnv;
  readonly cfg: ProtocolConfig;
  readonly members: Membership;
  readonly pushPull: PushPullExchange;
  readonly viewDigest: ViewDigest;
  timer(fn: () => void, ms: number): TimerHandle;
  stopped(): boolean;
}

export class AntiEntropy {
  /** Seeds and join targets: operator-given addresses, trusted like members'. */
  private readonly givenAddresses = new Set<string>();
  private seeds: string[] = [];
  /** Peak number of other live members seen; fewer now means we lost some and should heal. */
  private peakOthers = 0;

  constructor(private readonly p: AntiEntropyParts) {}

  /** A seed or join target (operator-given): trusted like a member's address. */
  isGiven(addr: string): boolean {
    return this.givenAddresses.has(addr);
  }

  /** The seeds healing re-contacts. */
  useSeeds(seeds: readonly string[]): void {
    this.seeds = [...seeds];
    for (const s of seeds) this.givenAddresses.add(s);
  }

  /** Replace the seeds healing re-contacts (a discovery provider found new addresses). */
  setSeeds(seeds: string[]): void {
    this.seeds = [...new Set(seeds)];
    this.givenAddresses.clear();
    for (const s of this.seeds) this.givenAddresses.add(s);
  }

  get currentSeeds(): readonly string[] {
    return this.seeds;
  }

  /** After every membership event: track the peak view (healing). */
  observe(): void {
    const others = this.p.members.liveCount() - 1;
    if (others > this.peakOthers) this.peakOthers = others;
  }

  /**
   * Push-pull with every seed at once; resolves with how many answered. With none, retries with
   * exponential backoff up to joinRetries times, then rejects with ERR_JOIN_FAILED.
   */
  async join(seeds: string[]): Promise<number> {
    const { cfg, env, members } = this.p;
    const self = members.self.address;
    const targets = [...new Set(seeds)].filter((s) => s !== self);
    if (targets.length === 0) return 0;
    for (const t of targets) this.givenAddresses.add(t);
    let backoff = cfg.joinBackoff;
    let lastErrors: unknown[] = [];
    for (let attempt = 0; ; attempt++) {
      if (this.p.stopped()) throw new GrapevineError('ERR_CLOSED', 'node stopped');
      const results = await Promise.allSettled(targets.map((s) => this.p.pushPull.exchange(s, true)));
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      if (ok > 0) {
        this.scheduleJoinSync();
        return ok;
      }
      lastErrors = results.map((r) => (r.status === 'rejected' ? r.reason : undefined));
      // Every seed answered no (versions, path, token, name): retrying cannot help.
      if (allFinal(lastErrors) || attempt >= cfg.joinRetries) break;
      await new Promise<void>((resolve) => this.p.timer(resolve, backoff));
      backoff = Math.min(backoff * 2, cfg.joinBackoffMax);
    }
    throw joinError(targets, lastErrors, { label: env.label, encrypted: env.encryption !== undefined });
  }

  /**
   * Gossip can spend an update's retransmit budget without reaching every node (about e^-8 per
   * pair at N=50: in a concurrent join of 50 that is roughly one missed pair per formation). One
   * extra push-pull with a random member, one to two gossip intervals after joining, repairs that
   * in a few hundred milliseconds instead of at the first periodic push-pull.
   */
  private scheduleJoinSync(): void {
    // Without the digest check: it recomputes every member's hash (O(N)), and a table filled
    // moments ago by a join has had no time to drift; the periodic and digest push-pulls check.
    this.p.timer(() => this.periodicPushPull(false), this.p.cfg.gossipInterval * (1 + this.p.env.random.next()));
  }

  private randomLive(): MemberRecord | undefined {
    const { env, members } = this.p;
    const self = members.self;
    return sampleFrom(env.random, [members.live], 1, (r) => r.state === 'alive' && r !== self)[0];
  }

  /**
   * Safety net for the incremental digest: recompute it where O(N) work is being done anyway (a
   * push-pull sends the whole table). A drift means a record changed without passing
   * disseminate() or onEvent(); it is counted and corrected.
   */
  checkViewDigest(): void {
    if (this.p.viewDigest.rebuild(this.p.members.records.values())) this.p.env.metrics.increment('grapevine.view-digest.drift');
  }

  periodicPushPull(check = true): void {
    if (check) this.checkViewDigest();
    const peer = this.randomLive();
    if (peer) this.p.pushPull.exchange(peer.address, false).catch(() => this.p.env.metrics.increment('grapevine.pushpull.failed'));
  }

  /**
   * Healing: when we are alone, have lost members, or hold tombstones, reach out to a seed and to
   * one recently dead member. If the "dead" were only partitioned away, the exchange makes each
   * side refute the other's verdict and the views merge.
   */
  heal(): void {
    const { env, members, pushPull } = this.p;
    const others = members.liveCount() - 1;
    const dead = members.dead;
    const lost = others === 0 || others < this.peakOthers;
    if (this.seeds.length > 0 && (lost || dead.size > 0)) {
      const seed = this.seeds[randomInt(env.random, this.seeds.length)]!;
      if (seed !== members.self.address) pushPull.exchange(seed, false).catch(() => env.metrics.increment('grapevine.heal.seed-failed'));
    }
    if (dead.size > 0) {
      const d = dead.at(randomInt(env.random, dead.size));
      pushPull.exchange(d.address, false).catch(() => env.metrics.increment('grapevine.heal.dead-failed'));
    }
    if (!lost) this.peakOthers = others;
  }
}
