/**
 * Membership views as the harness sees them, built from each node's member events the way the
 * anchor builds them from memberlist's EventDelegate:
 *
 * - a "join" (memberlist NotifyJoin) is an `alive` event for a member seen for the first time or
 *   coming back from dead/left. suspect → alive is not a join (memberlist fires no NotifyJoin then).
 * - a "leave" (memberlist NotifyLeave) is a `dead` or `left` event.
 * - the view of observer o is every subject with a join and no later leave. A node's own entry is
 *   set when it is created (memberlist's self NotifyJoin happens in Create).
 *
 * Event times are taken inside the listener (the protocol emits synchronously on the state change).
 */
import type { MemberEvent } from '@grapevine/core';
import { now } from './util.js';

export class Tracker {
  readonly n: number;
  private readonly idx = new Map<string, number>();
  /** alive[o][s]: o currently lists s (join seen, no leave since). */
  readonly alive: boolean[][];
  readonly aliveCnt: number[];
  /** Last join time per (observer, subject); NaN when none. */
  readonly joinAt: number[][];
  /** Last leave time per (observer, subject); NaN when none. */
  readonly leaveAt: number[][];
  /** Type of the last leave per (observer, subject). */
  readonly leaveType: ('dead' | 'left' | undefined)[][];
  /** Time of the most recent join or leave event anywhere. */
  last = now();

  // Window counters (reset by resetWindow); events about a node's own record are excluded.
  joinEvents = 0;
  leaveEvents = 0;
  leaveSubj = new Map<number, number>();
  /** First `suspect` event about each subject, at any observer, since the reset (NaN: none). */
  firstSuspectAt: number[] = [];
  suspectSubj = new Map<number, number>();
  /** `suspect` events (alive → suspect transitions), summed over observers. */
  suspectEvents = 0;

  constructor(names: readonly string[]) {
    this.n = names.length;
    names.forEach((name, i) => this.idx.set(name, i));
    const grid = <T>(v: T): T[][] => names.map(() => names.map(() => v));
    this.alive = grid(false);
    this.joinAt = grid(Number.NaN);
    this.leaveAt = grid(Number.NaN);
    this.leaveType = grid<'dead' | 'left' | undefined>(undefined);
    this.aliveCnt = names.map(() => 0);
    this.resetWindow();
  }

  index(name: string): number | undefined {
    return this.idx.get(name);
  }

  resetWindow(): void {
    this.joinEvents = 0;
    this.leaveEvents = 0;
    this.leaveSubj = new Map();
    this.firstSuspectAt = new Array<number>(this.n).fill(Number.NaN);
    this.suspectSubj = new Map();
    this.suspectEvents = 0;
  }

  /** The node was created: it lists itself (memberlist's self NotifyJoin at Create). */
  selfJoined(obs: number, at = now()): void {
    this.markJoin(obs, obs, at);
  }

  /** Feed one member event observed by node `obs`. */
  onEvent(obs: number, ev: MemberEvent): void {
    const at = now();
    const s = this.idx.get(ev.member.name);
    switch (ev.type) {
      case 'alive':
        if (ev.previous === 'suspect' || ev.previous === 'alive') return; // not a NotifyJoin in memberlist
        this.last = at;
        if (s === undefined) return;
        this.markJoin(obs, s, at);
        if (s !== obs) this.joinEvents++;
        return;
      case 'dead':
      case 'left':
        this.last = at;
        if (s === undefined) return;
        if (this.alive[obs]![s]) {
          this.alive[obs]![s] = false;
          this.aliveCnt[obs]!--;
        }
        this.leaveAt[obs]![s] = at;
        this.leaveType[obs]![s] = ev.type;
        if (s !== obs) {
          this.leaveEvents++;
          this.leaveSubj.set(s, (this.leaveSubj.get(s) ?? 0) + 1);
        }
        return;
      case 'suspect':
        if (s === undefined) return;
        this.suspectEvents++;
        if (Number.isNaN(this.firstSuspectAt[s]!)) this.firstSuspectAt[s] = at;
        this.suspectSubj.set(s, (this.suspectSubj.get(s) ?? 0) + 1);
        return;
      default:
        return;
    }
  }

  private markJoin(obs: number, s: number, at: number): void {
    if (!this.alive[obs]![s]) {
      this.alive[obs]![s] = true;
      this.aliveCnt[obs]!++;
    }
    this.joinAt[obs]![s] = at;
  }
}
