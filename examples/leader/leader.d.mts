// Types for leader.mjs, for TypeScript users of the example (and its test).
import type { EventEmitter } from 'node:events';
import type { Cluster } from 'grapevine';

export interface ElectionClock {
  /** Milliseconds; only differences are used, so any monotonic origin will do. */
  now(): number;
  setTimer(fn: () => void, ms: number): { cancel(): void };
}

export interface ElectionState {
  term: number;
  votedFor: string | null;
}

export interface LeaderElectionOptions {
  /** How many nodes take part, counting those that are down. Never lower than the real number. */
  clusterSize: number;
  /** Default 1000. */
  leaseMs?: number;
  /** Default leaseMs / 4; must be under leaseMs / 2. */
  heartbeatMs?: number;
  /** Bound on clock rate differences between nodes, as a fraction. Default 0.05. */
  maxDrift?: number;
  /** Default leaseMs. */
  electionJitterMs?: number;
  /** Default: performance.now() and unref'd setTimeout. */
  clock?: ElectionClock;
  /** Default Math.random. */
  random?: () => number;
  /** Default {vote: 65000, heartbeat: 65001}. */
  types?: { vote?: number; heartbeat?: number };
  /** Durable term and vote; save() must have made the state durable when it returns. */
  storage?: { load(): ElectionState | undefined; save(state: ElectionState): void };
}

export interface ElectionChange {
  isLeader: boolean;
  leader: string | null;
  term: number;
  reason: string;
}

export declare const monotonicClock: ElectionClock;

export declare class LeaderElection extends EventEmitter {
  constructor(cluster: Pick<Cluster<unknown>, 'name' | 'closed' | 'members' | 'request' | 'handleRequest'>, options: LeaderElectionOptions);
  readonly isLeader: boolean;
  readonly term: number;
  readonly leader: string | null;
  readonly leaseExpiresAt: number | undefined;
  readonly quorum: number;
  stop(): void;
  on(event: 'change', listener: (change: ElectionChange) => void): this;
}
