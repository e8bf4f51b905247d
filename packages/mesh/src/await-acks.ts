/**
 * Acknowledged publishes. publishAndAwait marks its event "ack requested"; every member that
 * delivers it to at least one local subscription answers with a direct ACK. The waiter resolves
 * once `replicas` distinct members (and members in `zones` distinct zones, read from each
 * member's metadata) have acknowledged, and rejects with QuorumTimeoutError, naming who did, when
 * the timeout passes first. Bounded by `maxAwaiting` waiters.
 */
import { GrapevineError, type Clock, type TimerHandle } from '@grapevine/core';
import { QuorumTimeoutError } from './errors.js';

export interface AckResult {
  /** Members that acknowledged, in order. */
  acked: string[];
  /** Distinct zones among them. */
  zones: string[];
}

interface Waiter {
  key: string;
  replicas: number;
  zones: number;
  acked: string[];
  ackedSet: Set<string>;
  zoneSet: Set<string>;
  resolve: (r: AckResult) => void;
  reject: (e: unknown) => void;
  timer: TimerHandle;
  cleanup: () => void;
}

export class AckWaiters {
  /** By sequence number (this origin's current run) of the awaited event. */
  private waiters = new Map<number, Waiter[]>();
  private count = 0;

  constructor(private readonly clock: Clock, private readonly max: number, private readonly zoneOf: (member: string) => string | undefined) {}

  get size(): number {
    return this.count;
  }

  /** Refuse early when the bound is reached, before the event is published. */
  checkRoom(): void {
    if (this.count >= this.max) throw new GrapevineError('ERR_LIMIT', `mesh: ${this.max} publishAndAwait calls are already waiting`);
  }

  wait(seq: number, key: string, replicas: number, zones: number, timeout: number, signal: AbortSignal | undefined): Promise<AckResult> {
    return new Promise<AckResult>((resolve, reject) => {
      const w: Waiter = {
        key, replicas, zones, acked: [], ackedSet: new Set(), zoneSet: new Set(),
        resolve, reject,
        timer: this.clock.setTimer(() => {
          this.remove(seq, w);
          reject(new QuorumTimeoutError(key, [...w.acked], [...w.zoneSet], { replicas, zones }));
        }, timeout),
        cleanup: () => {},
      };
      if (signal) {
        const onAbort = (): void => {
          this.remove(seq, w);
          reject(new GrapevineError('ERR_ABORTED', 'aborted'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        w.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      let list = this.waiters.get(seq);
      if (!list) this.waiters.set(seq, (list = []));
      list.push(w);
      this.count++;
      this.check(seq, w);
    });
  }

  /** A member acknowledged event `seq` of this origin's current epoch. */
  ack(seq: number, from: string): void {
    const list = this.waiters.get(seq);
    if (!list) return;
    for (const w of [...list]) {
      if (w.ackedSet.has(from)) continue;
      w.ackedSet.add(from);
      w.acked.push(from);
      const z = this.zoneOf(from);
      if (z !== undefined) w.zoneSet.add(z);
      this.check(seq, w);
    }
  }

  private check(seq: number, w: Waiter): void {
    if (w.acked.length >= w.replicas && w.zoneSet.size >= w.zones) {
      this.remove(seq, w);
      w.resolve({ acked: [...w.acked], zones: [...w.zoneSet] });
    }
  }

  private remove(seq: number, w: Waiter): void {
    const list = this.waiters.get(seq);
    if (!list) return;
    const i = list.indexOf(w);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.waiters.delete(seq);
    this.count--;
    w.timer.cancel();
    w.cleanup();
  }

  /** The bus closed: every waiter fails with ERR_CLOSED. */
  closeAll(): void {
    for (const [seq, list] of [...this.waiters]) {
      for (const w of [...list]) {
        this.remove(seq, w);
        w.reject(new GrapevineError('ERR_CLOSED', 'mesh bus closed'));
      }
    }
  }
}
