// Leader election with quorum leases and fencing terms, built only on Grapevine's public messaging
// API (handleRequest / request). Raft's election without Raft's log: numbered terms, one vote per
// node per term, a pre-vote round so a cut-off node cannot inflate terms, and a leader lease that
// must be renewed by a majority of the *configured* cluster size. README.md in this folder states
// what it guarantees and what it assumes; the comments below say which rule protects what.
import { EventEmitter } from 'node:events';

/**
 * The default clock: a monotonic one. Leases are durations measured on one machine, so wall-clock
 * steps (NTP, an operator) must not move them; performance.now() never jumps. Timers are unref'd
 * so an election never keeps a process alive on its own.
 */
export const monotonicClock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

const DEFAULT_TYPES = { vote: 65000, heartbeat: 65001 };

/**
 * One node's part in the election. Every node that may lead runs one, with the same clusterSize
 * and message types. Events: 'change' ({isLeader, leader, term, reason}) whenever this node
 * becomes or stops being leader, or learns of a different leader.
 */
export class LeaderElection extends EventEmitter {
  #cluster;
  #self;
  #quorum;
  #leaseMs;
  #holdMs;
  #heartbeatMs;
  #jitterMs;
  #clock;
  #random;
  #types;
  #storage;

  // Raft-like persistent state: the highest term seen and whom we voted for in it.
  #term = 0;
  #votedFor = null;

  #role = 'follower'; // 'follower' | 'candidate' | 'leader'
  #leader = null; // the leader we last acknowledged (or ourselves)
  #leaseEnd = -Infinity; // leader only: we lead while clock.now() < leaseEnd
  // The promise behind every lease: until #holdUntil we back (vote for, acknowledge) nobody but
  // #holdFor. Set when we acknowledge a leader's heartbeat, grant a vote, or (as leader or
  // candidate) back ourselves. null with a running hold: the quiet start, backing nobody at all.
  #holdUntil;
  #holdFor = null;

  #tickTimer;
  #leaseTimer;
  #electionTimer;
  #campaigning = false;
  #stopped = false;
  #unregister = [];

  /**
   * @param cluster a started Grapevine Cluster
   * @param options.clusterSize  how many nodes take part in elections, counting those that are
   *   down. A majority of THIS number is needed to win or keep leadership; never set it lower than
   *   the real number of participants, or two majorities can exist.
   * @param options.leaseMs      how long one successful renewal keeps a leader in office (1000)
   * @param options.heartbeatMs  renewal interval; several renewals fit in one lease (leaseMs / 4)
   * @param options.maxDrift     bound on how much faster one node's clock may run than another's,
   *   as a fraction (0.05 = 5 %); followers wait leaseMs × (1 + maxDrift) before voting again
   * @param options.electionJitterMs  random extra wait before a candidacy, to avoid split votes (leaseMs)
   * @param options.clock        {now(), setTimer(fn, ms) → {cancel()}}; a simulation passes its virtual clock
   * @param options.random       () → [0, 1); a simulation passes a seeded one
   * @param options.types        {vote, heartbeat}: the two message types used (65000, 65001)
   * @param options.storage      {load() → {term, votedFor} | undefined, save(state)}: durable
   *   term and vote. Without it they live in memory (see the README for what that costs).
   */
  constructor(cluster, options = {}) {
    super();
    const { clusterSize, leaseMs = 1000, maxDrift = 0.05, clock = monotonicClock, random = Math.random, types = DEFAULT_TYPES, storage } = options;
    if (!Number.isInteger(clusterSize) || clusterSize < 1) throw new TypeError('clusterSize must be a positive integer');
    if (!(leaseMs > 0)) throw new TypeError('leaseMs must be positive');
    if (!(maxDrift >= 0)) throw new TypeError('maxDrift must be >= 0');
    const heartbeatMs = options.heartbeatMs ?? leaseMs / 4;
    // A renewal must be able to land before the lease it extends runs out.
    if (!(heartbeatMs > 0 && heartbeatMs < leaseMs / 2)) throw new TypeError('heartbeatMs must be positive and under leaseMs / 2');
    this.#cluster = cluster;
    this.#self = cluster.name;
    this.#quorum = Math.floor(clusterSize / 2) + 1;
    this.#leaseMs = leaseMs;
    this.#holdMs = Math.ceil(leaseMs * (1 + maxDrift));
    this.#heartbeatMs = heartbeatMs;
    this.#jitterMs = options.electionJitterMs ?? leaseMs;
    this.#clock = clock;
    this.#random = random;
    this.#types = { ...DEFAULT_TYPES, ...types };
    this.#storage = storage;
    const saved = storage?.load();
    if (saved) {
      this.#term = saved.term;
      this.#votedFor = saved.votedFor ?? null;
    }
    // Quiet start: a node that just (re)started may have acknowledged a leader before it went
    // down and forgotten that, so it votes for nobody until any lease it helped grant is over.
    this.#holdUntil = clock.now() + this.#holdMs;
    this.#unregister.push(
      cluster.handleRequest(this.#types.vote, (req, info) => this.#onVoteRequest(req, info)),
      cluster.handleRequest(this.#types.heartbeat, (req, info) => this.#onHeartbeat(req, info)),
    );
    this.#scheduleElection();
  }

  /** True while this node holds an unexpired lease. Checked against the clock on every read. */
  get isLeader() {
    return this.#role === 'leader' && this.#clock.now() < this.#leaseEnd;
  }

  /**
   * The current term. While isLeader, it is this node's fencing token: each term has at most one
   * leader, and later leaders have higher terms (under the README's assumptions).
   */
  get term() {
    return this.#term;
  }

  /** The leader this node knows of: itself while isLeader, else the one it acknowledged within a lease, else null. */
  get leader() {
    if (this.#role === 'leader') return this.isLeader ? this.#self : null;
    // Only while we still hold for that leader: once we voted for a candidate, or a lease's worth
    // of silence passed, we no longer vouch for it.
    return this.#holdFor === this.#leader && this.#clock.now() < this.#holdUntil ? this.#leader : null;
  }

  /** Leader only: local clock time at which the lease runs out unless renewed. */
  get leaseExpiresAt() {
    return this.#role === 'leader' ? this.#leaseEnd : undefined;
  }

  get quorum() {
    return this.#quorum;
  }

  /** Leave the election: stop timers, stop answering, give up leadership locally. */
  stop() {
    if (this.#stopped) return;
    const wasLeader = this.isLeader;
    this.#stopped = true;
    for (const off of this.#unregister) off();
    this.#cancelTimers();
    this.#role = 'follower';
    this.#leader = null;
    if (wasLeader) this.#emitChange('stopped');
  }

  // ---- answering others ----------------------------------------------------------------------

  #onVoteRequest(req, info) {
    const { term, candidate, pre } = req ?? {};
    if (this.#stopped || !Number.isInteger(term) || candidate !== info.from) return { term: this.#term, granted: false };
    const now = this.#clock.now();
    // Leader stickiness: while we hold for a leader (or a candidate we voted for), nobody else gets
    // our vote, and we don't even adopt their term. This is what keeps a lease safe: a majority
    // backed it, and every one of them refuses to help elect a rival until it has expired.
    if (now < this.#holdUntil && this.#holdFor !== candidate) return { term: this.#term, granted: false };
    if (term < this.#term) return { term: this.#term, granted: false };
    if (pre) {
      // Pre-vote: "would you vote for me in term+1?" Changes nothing here, so a node that keeps
      // failing to win (cut off in a minority) never drives terms up and disrupts the rest.
      const free = term > this.#term || this.#votedFor === null || this.#votedFor === candidate;
      return { term: this.#term, granted: free };
    }
    if (term > this.#term) this.#adoptTerm(term, 'a candidate has a higher term');
    if (this.#votedFor !== null && this.#votedFor !== candidate) return { term: this.#term, granted: false };
    // One vote per term, recorded (durably, with storage) before the answer leaves.
    this.#votedFor = candidate;
    this.#save();
    this.#hold(now, candidate);
    return { term: this.#term, granted: true };
  }

  #onHeartbeat(req, info) {
    const { term, leader } = req ?? {};
    if (this.#stopped || !Number.isInteger(term) || leader !== info.from) return { term: this.#term, ok: false };
    const now = this.#clock.now();
    // The same rule as for votes, and the heart of the lease: while we hold for one node, we back
    // no other, not even a leader of a higher term. So no node ever backs two different nodes
    // within one hold, and since any two majorities share a node, two leases cannot overlap.
    if (now < this.#holdUntil && this.#holdFor !== leader) return { term: this.#term, ok: false };
    // A stale leader: refusing it is how a deposed leader fails to renew and steps down.
    if (term < this.#term) return { term: this.#term, ok: false };
    if (term > this.#term) this.#adoptTerm(term, 'a leader has a higher term');
    // (A leader holds for itself, so it never gets here for another leader's heartbeat.)
    if (this.#role === 'leader') return { term: this.#term, ok: false };
    // Following the winner of this term is not a vote, so it is fine if we voted for a candidate
    // that lost (once our hold for it is over). Not having voted in this term yet, we count it as
    // our vote, so no late candidate of this same term gets one from us.
    if (this.#votedFor === null) {
      this.#votedFor = leader;
      this.#save();
    }
    if (this.#role === 'candidate') this.#role = 'follower'; // someone else won our term
    this.#hold(now, leader);
    if (this.#leader !== leader) {
      this.#leader = leader;
      this.#emitChange('leader heard');
    }
    return { term: this.#term, ok: true };
  }

  // ---- state changes -------------------------------------------------------------------------

  /**
   * We just backed `forWhom` (a vote, an acknowledgement, or as leader ourselves): back nobody
   * else for the next leaseMs × (1 + maxDrift). Callers have checked that any running hold is for
   * the same node, so this only ever extends.
   */
  #hold(from, forWhom) {
    this.#holdUntil = Math.max(this.#holdUntil, from + this.#holdMs);
    this.#holdFor = forWhom;
  }

  #adoptTerm(term, reason) {
    if (term <= this.#term) return;
    const wasLeader = this.#role === 'leader';
    this.#term = term;
    this.#votedFor = null;
    this.#save();
    if (wasLeader) this.#stepDown(reason);
    else this.#role = 'follower';
  }

  #save() {
    this.#storage?.save({ term: this.#term, votedFor: this.#votedFor });
  }

  #becomeLeader(started) {
    this.#role = 'leader';
    this.#leader = this.#self;
    // The lease counts from when we asked for votes, not from when the answers came: every vote
    // was given after that instant, so every voter's hold outlasts this lease.
    this.#leaseEnd = started + this.#leaseMs;
    this.#armLeaseTimer();
    this.#emitChange('elected');
    this.#renew();
  }

  #stepDown(reason) {
    if (this.#role !== 'leader') return;
    this.#role = 'follower';
    this.#leader = null;
    this.#tickTimer?.cancel();
    this.#leaseTimer?.cancel();
    this.#emitChange(reason);
    this.#scheduleElection();
  }

  #emitChange(reason) {
    this.emit('change', { isLeader: this.isLeader, leader: this.leader, term: this.#term, reason });
  }

  // ---- leading -------------------------------------------------------------------------------

  /** One renewal round: ask everyone to acknowledge us; a majority extends the lease. */
  #renew() {
    if (this.#stopped || this.#role !== 'leader') return;
    if (this.#cluster.closed) return this.stop();
    const started = this.#clock.now();
    if (started >= this.#leaseEnd) return this.#stepDown('lease expired');
    const term = this.#term;
    // We count ourselves among the acknowledgements, so we hold for ourselves like any follower.
    this.#hold(started, this.#self);
    this.#poll(this.#types.heartbeat, { term, leader: this.#self }, (r) => r?.ok === true && r.term === term).then((ok) => {
      // A round counts only if we have led without a break since it started: a round that
      // straddles a step-down (or a new term) must not revive an expired lease.
      if (!ok || this.#role !== 'leader' || this.#term !== term) return;
      const end = started + this.#leaseMs;
      if (end > this.#leaseEnd) {
        this.#leaseEnd = end;
        this.#armLeaseTimer();
      }
    });
    this.#tickTimer?.cancel();
    this.#tickTimer = this.#clock.setTimer(() => this.#renew(), this.#heartbeatMs);
  }

  #armLeaseTimer() {
    this.#leaseTimer?.cancel();
    // isLeader reads the clock, so it is exact even if this timer runs late; the timer only makes
    // the step-down (and its event) happen without anyone asking.
    this.#leaseTimer = this.#clock.setTimer(() => {
      if (this.#role === 'leader' && this.#clock.now() >= this.#leaseEnd) this.#stepDown('lease expired: no majority acknowledged in time');
    }, Math.max(0, this.#leaseEnd - this.#clock.now()));
  }

  // ---- campaigning ---------------------------------------------------------------------------

  #scheduleElection() {
    if (this.#stopped) return;
    this.#electionTimer?.cancel();
    const wait = Math.max(0, this.#holdUntil - this.#clock.now()) + this.#random() * this.#jitterMs;
    this.#electionTimer = this.#clock.setTimer(() => this.#maybeCampaign(), wait);
  }

  #maybeCampaign() {
    if (this.#stopped || this.#role === 'leader' || this.#campaigning) return;
    if (this.#cluster.closed) return this.stop();
    const now = this.#clock.now();
    if (now < this.#holdUntil && this.#holdFor !== this.#self) return this.#scheduleElection(); // a leader is (still) around
    if (this.#leader !== null && this.#leader !== this.#self) {
      this.#leader = null;
      this.#emitChange('leader silent for a lease');
    }
    this.#campaigning = true;
    this.#campaign().finally(() => {
      this.#campaigning = false;
      if (this.#role !== 'leader') this.#scheduleElection();
    });
  }

  async #campaign() {
    const proposed = this.#term + 1;
    const self = this.#self;
    const preOk = await this.#poll(this.#types.vote, { term: proposed, candidate: self, pre: true }, (r) => r?.granted === true);
    if (!preOk || this.#stopped || this.#term >= proposed) return;
    // Someone may have become leader while we were asking; our own vote follows the same rule.
    const started = this.#clock.now();
    if (started < this.#holdUntil && this.#holdFor !== self) return;
    this.#term = proposed;
    this.#votedFor = self;
    this.#save();
    this.#role = 'candidate';
    this.#hold(started, self);
    const won = await this.#poll(this.#types.vote, { term: proposed, candidate: self, pre: false }, (r) => r?.granted === true && r.term === proposed);
    if (this.#stopped || this.#role !== 'candidate' || this.#term !== proposed) return;
    // A majority that answers after the would-be lease already ran out elects nobody.
    if (won && this.#clock.now() < started + this.#leaseMs) this.#becomeLeader(started);
    else this.#role = 'follower';
  }

  /**
   * Send one request to every live member; resolve true as soon as a majority of clusterSize
   * (this node counted) answered `ok`, false once every answer is in without one. Members that
   * don't run the election answer ERR_NO_HANDLER and simply don't count.
   */
  #poll(type, payload, ok) {
    return new Promise((resolve) => {
      let yes = 1;
      if (yes >= this.#quorum) return resolve(true);
      let peers;
      try {
        peers = this.#cluster.members({ state: ['alive', 'suspect'] }).map((m) => m.name).filter((n) => n !== this.#self);
      } catch {
        peers = [];
      }
      let pending = peers.length;
      if (pending === 0) return resolve(false);
      for (const peer of peers) {
        this.#cluster.request(peer, type, payload, { timeout: this.#leaseMs }).then(
          (reply) => {
            if (Number.isInteger(reply?.term) && reply.term > this.#term) this.#adoptTerm(reply.term, `${peer} has a higher term`);
            if (ok(reply) && ++yes >= this.#quorum) resolve(true);
          },
          () => {}, // unreachable, timed out, no handler: no vote
        ).finally(() => {
          if (--pending === 0) resolve(false);
        });
      }
    });
  }

  #cancelTimers() {
    this.#tickTimer?.cancel();
    this.#leaseTimer?.cancel();
    this.#electionTimer?.cancel();
  }
}
