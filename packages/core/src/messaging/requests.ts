/**
 * Outstanding requests of this node: each waits for one reply, a timeout, an abort signal, or the
 * death of the node it asked, whichever comes first. Bounded by limits.maxPendingRequests.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { GrapevineError, RemoteError } from '../errors.js';
import { ReplyStatus, type ReplyMsg } from './user-wire.js';

interface Pending {
  target: string;
  resolve(value: unknown): void;
  reject(err: GrapevineError): void;
  timer: TimerHandle;
  cleanup: () => void;
}

export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly clock: Clock, private readonly max: number) {}

  get size(): number {
    return this.pending.size;
  }

  /**
   * Register a request; returns its id and the promise of its reply. `send` is called with the id
   * and may reject (peer unreachable), which rejects the request at once.
   */
  start(target: string, timeout: number, signal: AbortSignal | undefined, send: (reqId: number) => Promise<void>): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(new GrapevineError('ERR_ABORTED', 'request aborted'));
    if (this.pending.size >= this.max) {
      return Promise.reject(new GrapevineError('ERR_LIMIT', `too many pending requests (limits.maxPendingRequests = ${this.max})`));
    }
    const reqId = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const onAbort = (): void => this.settle(reqId, new GrapevineError('ERR_ABORTED', `request to ${target} aborted`));
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = this.clock.setTimer(
        () => this.settle(reqId, new GrapevineError('ERR_TIMEOUT', `no reply from ${target} within ${timeout} ms`)),
        timeout,
      );
      this.pending.set(reqId, {
        target, resolve, reject, timer,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      });
      send(reqId).catch((err: unknown) => {
        const e = err instanceof GrapevineError ? err : new GrapevineError('ERR_UNREACHABLE', `request to ${target}: ${String(err)}`, { cause: err });
        this.settle(reqId, e);
      });
    });
  }

  /** A reply arrived. False when nobody waits for it (late, duplicate or forged). */
  reply(msg: ReplyMsg): boolean {
    const p = this.pending.get(msg.reqId);
    if (!p || p.target !== msg.from) return false;
    switch (msg.status) {
      case ReplyStatus.ok:
        this.settle(msg.reqId, undefined, msg.payload);
        return true;
      case ReplyStatus.noHandler:
        this.settle(msg.reqId, new GrapevineError('ERR_NO_HANDLER', `${msg.from} has no request handler for this type`));
        return true;
      case ReplyStatus.busy:
        this.settle(msg.reqId, new GrapevineError('ERR_BUSY', `${msg.from} is handling too many requests`));
        return true;
      default: {
        const [code, message] = Array.isArray(msg.payload) ? msg.payload as unknown[] : [];
        this.settle(msg.reqId, new RemoteError(msg.from, typeof code === 'string' ? code.slice(0, 64) : 'ERR_HANDLER', typeof message === 'string' ? message.slice(0, 1024) : 'handler failed'));
        return true;
      }
    }
  }

  /** The target died or left: its requests fail now rather than at their timeout. */
  targetGone(name: string): void {
    for (const [id, p] of this.pending) {
      if (p.target === name) this.settle(id, new GrapevineError('ERR_UNREACHABLE', `${name} left or failed before replying`));
    }
  }

  closeAll(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, new GrapevineError('ERR_CLOSED', 'cluster closed'));
  }

  private settle(reqId: number, err: GrapevineError | undefined, value?: unknown): void {
    const p = this.pending.get(reqId);
    if (!p) return;
    this.pending.delete(reqId);
    p.timer.cancel();
    p.cleanup();
    if (err) p.reject(err);
    else p.resolve(value);
  }
}
