/**
 * One application stream between two nodes: an ordered, flow-controlled byte pipe in both
 * directions, carried as messages over the reliable transport path (so it is sealed, labelled and
 * bounded like everything else). Node users get it wrapped as a Duplex (the grapevine package);
 * this is the I/O-free core of it.
 *
 * Flow control is credit based: each side may send only as many bytes as the other granted.
 * A receiver grants more as its consumer reads (`consumed`), so a slow reader stalls the writer
 * instead of growing memory: at most one window of bytes is ever in flight per direction.
 */
import { GrapevineError } from '../errors.js';
import type { UserMessage } from './user-wire.js';

export interface StreamReceiver {
  onData(chunk: Uint8Array): void;
  /** The peer ended its side; no more data will arrive. */
  onEnd(): void;
  /** The stream failed or was reset; neither side sends any more. */
  onError(err: GrapevineError): void;
}

export interface StreamTransportSide {
  /** Send one stream message reliably to the peer; rejects when the peer can't be reached. */
  send(msg: UserMessage): Promise<void>;
  /** The channel finished (both sides ended, or it failed): forget it. */
  closed(ch: StreamChannel): void;
}

export interface StreamInfo {
  /** The peer's node name. */
  readonly peer: string;
  /** The peer's address. */
  readonly address: string;
  readonly type: number;
  /** The value the opener passed to openStream. */
  readonly header: unknown;
  /** True on the side that called openStream. */
  readonly initiator: boolean;
}

/** How a stream wrapper (the Node Duplex of @grapevine/node) should behave; the core channel ignores it. */
export interface StreamOptions {
  /**
   * Keep our side open after the peer ended its side (like net.Socket's option of that name).
   * Default false: once everything the peer sent was read, our side ends too, so a stream whose
   * work is done closes on both nodes. Set it on the side that answers after reading to the end.
   */
  allowHalfOpen?: boolean;
}

export class StreamChannel implements StreamInfo {
  private sendCredit: number;
  private sendSeq = 0;
  private recvSeq = 0;
  /** Bytes the peer may still send before it needs more credit from us. */
  private recvAllowance: number;
  /** Bytes consumed by our reader and not yet granted back to the peer. */
  private ungranted = 0;
  private creditWaiters: (() => void)[] = [];
  private receiver: StreamReceiver | undefined;
  private early: Uint8Array[] = [];
  private earlyEnd = false;
  private localEnded = false;
  private remoteEnded = false;
  private failure: GrapevineError | undefined;
  private done = false;

  constructor(
    private readonly side: StreamTransportSide,
    readonly opener: string,
    readonly sid: number,
    readonly peer: string,
    readonly address: string,
    readonly type: number,
    readonly header: unknown,
    readonly initiator: boolean,
    /** What we let the peer send before it hears from us. */
    private readonly window: number,
    /** What the peer lets us send before we hear from it (0 until an opener is accepted). */
    sendWindow: number,
    private readonly chunkBytes: number,
  ) {
    this.sendCredit = sendWindow;
    this.recvAllowance = window;
  }

  get closed(): boolean {
    return this.done;
  }

  get error(): GrapevineError | undefined {
    return this.failure;
  }

  /** Attach the reader. Data that arrived before is delivered at once. */
  setReceiver(r: StreamReceiver): void {
    this.receiver = r;
    const early = this.early;
    this.early = [];
    for (const c of early) r.onData(c);
    if (this.earlyEnd) r.onEnd();
    if (this.failure) r.onError(this.failure);
  }

  /**
   * Queue bytes for the peer. Resolves once they are handed to the transport, which happens as
   * credit allows: awaiting each write is what gives a writer backpressure.
   */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.localEnded) throw new GrapevineError('ERR_CLOSED', 'stream: write after end');
    let off = 0;
    while (off < chunk.length) {
      if (this.failure) throw this.failure;
      if (this.sendCredit <= 0) {
        await new Promise<void>((resolve) => this.creditWaiters.push(resolve));
        continue;
      }
      const n = Math.min(this.sendCredit, this.chunkBytes, chunk.length - off);
      this.sendCredit -= n;
      const data = chunk.subarray(off, off + n);
      off += n;
      this.sendOrFail({ s: 5, opener: this.opener, sid: this.sid, seq: this.sendSeq++, data });
    }
  }

  /** End our side (half-close); the peer may keep sending. */
  async end(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.localEnded) return;
    this.localEnded = true;
    await this.side.send({ s: 7, opener: this.opener, sid: this.sid, seq: this.sendSeq }).catch((err: unknown) => {
      this.fail(asStreamError(err, 'ERR_UNREACHABLE'));
      throw this.failure;
    });
    this.maybeDone();
  }

  /** Abort both directions and tell the peer why. */
  reset(code = 'ERR_ABORTED', message = 'stream reset'): void {
    if (this.done) return;
    this.side.send({ s: 8, opener: this.opener, sid: this.sid, code, message }).catch(() => undefined);
    this.fail(new GrapevineError('ERR_ABORTED', `stream reset locally: ${message}`));
  }

  /** The reader consumed `n` bytes: grant them back in batches of a quarter window. */
  consumed(n: number): void {
    if (this.done || this.remoteEnded) return;
    this.ungranted += n;
    if (this.ungranted >= this.window / 4) {
      const bytes = this.ungranted;
      this.ungranted = 0;
      this.recvAllowance += bytes;
      this.sendOrFail({ s: 6, opener: this.opener, sid: this.sid, bytes });
    }
  }

  // ---- from the peer ---------------------------------------------------------------------------

  receiveData(seq: number, data: Uint8Array): void {
    if (this.done) return;
    if (seq !== this.recvSeq || this.remoteEnded) return this.protocolError(`data out of order (got ${seq}, want ${this.recvSeq})`);
    if (data.length > this.recvAllowance) return this.protocolError('peer sent past its credit');
    this.recvSeq++;
    this.recvAllowance -= data.length;
    if (this.receiver) this.receiver.onData(data);
    else this.early.push(data);
  }

  receiveCredit(bytes: number): void {
    if (this.done) return;
    this.sendCredit += bytes;
    const waiters = this.creditWaiters;
    this.creditWaiters = [];
    for (const w of waiters) w();
  }

  receiveEnd(seq: number): void {
    if (this.done) return;
    if (seq !== this.recvSeq) return this.protocolError(`end after ${seq} chunks, received ${this.recvSeq}`);
    this.remoteEnded = true;
    if (this.receiver) this.receiver.onEnd();
    else this.earlyEnd = true;
    this.maybeDone();
  }

  receiveReset(code: string, message: string): void {
    this.fail(new GrapevineError('ERR_STREAM_RESET', `stream reset by ${this.peer}: ${code}: ${message}`));
  }

  /** Fail without telling the peer (it is gone, or the cluster is closing). */
  fail(err: GrapevineError): void {
    if (this.done) return;
    this.failure = err;
    this.done = true;
    const waiters = this.creditWaiters;
    this.creditWaiters = [];
    for (const w of waiters) w();
    this.receiver?.onError(err);
    this.side.closed(this);
  }

  private protocolError(message: string): void {
    this.side.send({ s: 8, opener: this.opener, sid: this.sid, code: 'ERR_PROTOCOL', message }).catch(() => undefined);
    this.fail(new GrapevineError('ERR_STREAM_RESET', `stream protocol error: ${message}`));
  }

  private sendOrFail(msg: UserMessage): void {
    this.side.send(msg).catch((err: unknown) => this.fail(asStreamError(err, 'ERR_UNREACHABLE')));
  }

  private maybeDone(): void {
    if (this.localEnded && this.remoteEnded && !this.done) {
      this.done = true;
      this.side.closed(this);
    }
  }
}

function asStreamError(err: unknown, code: 'ERR_UNREACHABLE'): GrapevineError {
  if (err instanceof GrapevineError) return err;
  return new GrapevineError(code, `stream: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
