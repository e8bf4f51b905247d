/**
 * Opens, accepts and routes application streams. A stream is named by its opener's node name and
 * a number the opener picked, so both nodes can open streams to each other without collisions.
 *
 * Opening: the opener sends OPEN with its receive window; the acceptor answers with CREDIT (its own
 * window), which is the acceptance, or with RESET (no handler, too many streams). openStream
 * resolves on the first and rejects on the second, or after the open timeout.
 */
import type { Clock } from '../clock.js';
import { GrapevineError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { StreamChannel, type StreamTransportSide } from './stream-channel.js';
import type { StreamOpenMsg, UserMessage } from './user-wire.js';

export interface StreamMuxSettings {
  self: () => { name: string; address: string };
  clock: Clock;
  metrics: Metrics;
  window: number;
  chunkBytes: number;
  maxStreams: number;
  openTimeout: number;
  /** Reliable send of one user message to an address. */
  send(to: string, msg: UserMessage): Promise<void>;
  /** An accepted stream for a type with a stream handler; false = no handler (refused). */
  accept(ch: StreamChannel): boolean;
  hasHandler(type: number): boolean;
}

interface Opening {
  ch: StreamChannel;
  resolve(ch: StreamChannel): void;
  reject(err: GrapevineError): void;
  cancelTimer(): void;
}

export class StreamMux {
  private readonly streams = new Map<string, StreamChannel>();
  private readonly opening = new Map<string, Opening>();
  private nextSid = 1;

  constructor(private readonly s: StreamMuxSettings) {}

  get size(): number {
    return this.streams.size;
  }

  private side(address: string): StreamTransportSide {
    return {
      send: (msg) => this.s.send(address, msg),
      closed: (ch) => this.streams.delete(key(ch.opener, ch.sid)),
    };
  }

  open(peer: string, address: string, type: number, header: unknown): Promise<StreamChannel> {
    if (this.streams.size >= this.s.maxStreams) {
      return Promise.reject(new GrapevineError('ERR_LIMIT', `too many open streams (limits.maxStreams = ${this.s.maxStreams})`));
    }
    const self = this.s.self();
    const sid = this.nextSid++;
    const ch = new StreamChannel(this.side(address), self.name, sid, peer, address, type, header, true, this.s.window, 0, this.s.chunkBytes);
    const k = key(self.name, sid);
    this.streams.set(k, ch);
    return new Promise<StreamChannel>((resolve, reject) => {
      const timer = this.s.clock.setTimer(() => {
        this.opening.delete(k);
        ch.fail(new GrapevineError('ERR_TIMEOUT', `stream to ${peer}: no answer within ${this.s.openTimeout} ms`));
        reject(ch.error!);
      }, this.s.openTimeout);
      this.opening.set(k, { ch, resolve, reject, cancelTimer: () => timer.cancel() });
      const open: StreamOpenMsg = { s: 4, opener: self.name, sid, type, fromAddr: self.address, header, window: this.s.window };
      this.s.send(address, open).catch((err: unknown) => {
        const o = this.opening.get(k);
        if (!o) return;
        this.opening.delete(k);
        o.cancelTimer();
        const e = err instanceof GrapevineError ? err : new GrapevineError('ERR_UNREACHABLE', `stream to ${peer}: ${String(err)}`);
        ch.fail(e);
        reject(e);
      });
    });
  }

  /** Route one stream message. */
  receive(msg: UserMessage): void {
    if (msg.s === 4) return this.onOpen(msg);
    if (msg.s !== 5 && msg.s !== 6 && msg.s !== 7 && msg.s !== 8) return;
    const k = key(msg.opener, msg.sid);
    const ch = this.streams.get(k);
    if (!ch) {
      this.s.metrics.increment('grapevine.stream.unknown');
      return;
    }
    const o = this.opening.get(k);
    switch (msg.s) {
      case 5: return ch.receiveData(msg.seq, msg.data);
      case 6:
        if (o) {
          this.opening.delete(k);
          o.cancelTimer();
          ch.receiveCredit(msg.bytes);
          o.resolve(ch);
          return;
        }
        return ch.receiveCredit(msg.bytes);
      case 7: return ch.receiveEnd(msg.seq);
      case 8:
        ch.receiveReset(msg.code, msg.message);
        if (o) {
          this.opening.delete(k);
          o.cancelTimer();
          o.reject(new GrapevineError(msg.code === 'ERR_NO_HANDLER' ? 'ERR_NO_HANDLER' : 'ERR_STREAM_RESET', `stream refused by ${ch.peer}: ${msg.message}`));
        }
        return;
    }
  }

  private onOpen(msg: StreamOpenMsg): void {
    const k = key(msg.opener, msg.sid);
    if (this.streams.has(k)) return; // a duplicate OPEN
    const refuse = (code: string, message: string): void => {
      this.s.metrics.increment(`grapevine.stream.refused`);
      this.s.send(msg.fromAddr, { s: 8, opener: msg.opener, sid: msg.sid, code, message }).catch(() => undefined);
    };
    if (!this.s.hasHandler(msg.type)) return refuse('ERR_NO_HANDLER', `no stream handler for type ${msg.type}`);
    if (this.streams.size >= this.s.maxStreams) return refuse('ERR_LIMIT', 'too many open streams');
    const ch = new StreamChannel(this.side(msg.fromAddr), msg.opener, msg.sid, msg.opener, msg.fromAddr, msg.type, msg.header, false, this.s.window, msg.window, this.s.chunkBytes);
    this.streams.set(k, ch);
    // The acceptance: our window as the first credit.
    this.s.send(msg.fromAddr, { s: 6, opener: msg.opener, sid: msg.sid, bytes: this.s.window }).catch((err: unknown) => {
      ch.fail(err instanceof GrapevineError ? err : new GrapevineError('ERR_UNREACHABLE', String(err)));
    });
    this.s.metrics.increment('grapevine.stream.accepted');
    if (!this.s.accept(ch)) ch.reset('ERR_NO_HANDLER', 'no stream handler');
  }

  /** A member died or left: its streams fail at once. */
  peerGone(name: string): void {
    for (const ch of [...this.streams.values()]) {
      if (ch.peer === name) this.failOne(ch, new GrapevineError('ERR_UNREACHABLE', `stream peer ${name} is gone`));
    }
  }

  closeAll(): void {
    for (const ch of [...this.streams.values()]) this.failOne(ch, new GrapevineError('ERR_CLOSED', 'cluster closed'));
  }

  private failOne(ch: StreamChannel, err: GrapevineError): void {
    const k = key(ch.opener, ch.sid);
    const o = this.opening.get(k);
    ch.fail(err);
    if (o) {
      this.opening.delete(k);
      o.cancelTimer();
      o.reject(err);
    }
  }
}

function key(opener: string, sid: number): string {
  return opener + '\u0000' + sid;
}
