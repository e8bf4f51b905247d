/**
 * The origin's memory of members that stopped hearing it. When a member goes suspect, dead or
 * left, or restarts under the same name, the origin notes the last event that member surely got
 * (the last one sent `rejoinLookback` ms before the change: it may have stopped hearing before
 * anyone noticed). A restarted process under that name has no state of its own; on its first
 * contact it asks "fresh", and the origin answers with where it is owed events from. Bounded by
 * `maxOrigins` names (oldest forgotten first: a forgotten one starts from where it joined).
 */
import type { Member, MemberEvent } from '@grapevine/core';

interface Mark {
  /** The process instance that stopped hearing. */
  instance: number;
  /** Last sequence number that instance surely got. */
  seq: number;
}

export class RejoinMarks {
  private marks = new Map<string, Mark>();
  private instances = new Map<string, number>();

  constructor(private readonly max: number, private readonly lookback: number, private readonly seqBefore: (t: number) => number) {}

  get size(): number {
    return this.marks.size;
  }

  private mark(name: string, instance: number, at: number): void {
    const seq = this.seqBefore(at - this.lookback);
    const cur = this.marks.get(name);
    if (cur && cur.seq <= seq) return;
    this.marks.delete(name);
    this.marks.set(name, { instance, seq });
    if (this.marks.size > this.max) this.marks.delete(this.marks.keys().next().value as string);
  }

  /** Follow the cluster's member events. */
  observe(ev: MemberEvent, self: string): void {
    const m: Member = ev.member;
    if (m.name === self) return;
    const known = this.instances.get(m.name);
    if (ev.type === 'suspect' || ev.type === 'dead' || ev.type === 'left') {
      this.mark(m.name, m.instance, ev.at);
    } else if (ev.type === 'alive') {
      if (known !== undefined && m.instance !== known) {
        // Restarted without passing through dead: the old process stopped hearing at some point.
        this.mark(m.name, known, ev.at);
      } else {
        const cur = this.marks.get(m.name);
        // The same process is back (a refuted suspicion, a healed partition): it still has its
        // own numbering and asks for what it lacks itself.
        if (cur && cur.instance === m.instance) this.marks.delete(m.name);
      }
    }
    if (ev.type === 'dead' || ev.type === 'left' || ev.type === 'alive') {
      this.instances.delete(m.name);
      this.instances.set(m.name, m.instance);
      if (this.instances.size > this.max) this.instances.delete(this.instances.keys().next().value as string);
    }
  }

  /**
   * A fresh bus under `name` (process `instance`, started `uptime` ms ago) asks where to start:
   * the first sequence number it is owed. A restarted process is owed what its predecessor
   * missed; any other is owed what was sent since its bus started (plus `margin` ms for the
   * request's own travel).
   */
  owed(name: string, instance: number, now: number, uptime: number, margin: number): number {
    const sinceStart = this.seqBefore(now - uptime - margin) + 1;
    const own = this.restartOwed(name, instance, now);
    return own !== null ? Math.min(own, sinceStart) : sinceStart;
  }

  private restartOwed(name: string, instance: number, now: number): number | null {
    const cur = this.marks.get(name);
    if (cur && cur.instance !== instance) {
      this.marks.delete(name);
      return cur.seq + 1;
    }
    const known = this.instances.get(name);
    if (!cur && known !== undefined && instance > known) {
      // Its restart reached us by this request before it reached us by gossip.
      return this.seqBefore(now - this.lookback) + 1;
    }
    return null;
  }
}
