import type { InboundInfo, TransportReceiver } from '@grapevine/core';
import { withDeadline } from './deadline.js';

export interface ReceivedMessage {
  data: Uint8Array;
  from: string;
  reliable: boolean;
}

/** A receiver that records what arrives and lets a test await it, with a deadline, without sleeping. */
export class Inbox implements TransportReceiver {
  readonly messages: ReceivedMessage[] = [];
  /**
   * Runs after each message is recorded. A test makes it throw to check that the transport guards
   * its receiver.
   */
  afterRecord: ((message: ReceivedMessage) => void) | undefined;
  private readonly waiters = new Set<() => void>();

  onMessage(data: Uint8Array, info: InboundInfo): void {
    const message = { data, from: info.from, reliable: info.reliable };
    this.messages.push(message);
    for (const wake of [...this.waiters]) wake();
    this.afterRecord?.(message);
  }

  /** Resolves once at least `count` messages have arrived in total. */
  waitForCount(count: number, timeoutMs: number): Promise<void> {
    return this.waitUntil(() => this.messages.length >= count, timeoutMs, `${count} message(s), got ${this.messages.length}`);
  }

  /** Resolves once `check` holds; re-checked on every arrival. */
  waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    let wake: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => {
      wake = () => {
        if (check()) resolve();
      };
    });
    this.waiters.add(wake);
    return withDeadline(arrived, timeoutMs, what).finally(() => this.waiters.delete(wake));
  }
}
