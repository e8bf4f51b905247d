/**
 * Application streams as Node Duplex streams. The core StreamChannel does the protocol (ordering,
 * credit-based flow control, half-close, reset); this maps it onto Node's stream contract:
 * - a write completes when the channel had credit for it, so `write()` returning false and
 *   'drain' mean what they always mean;
 * - bytes are granted back to the sender only once they are pushed into the readable side with
 *   room to spare, or when the consumer asks for more (_read), so a reader that stops reading stops
 *   the writer on the other node after one window;
 * - end() half-closes (the peer sees 'end'), destroy() resets the stream on both sides.
 *
 * A stream whose work is done closes, as a net.Socket does: unless `allowHalfOpen` is set, our side
 * ends once the peer's end was read, and a Duplex whose two sides ended is destroyed (autoDestroy),
 * so `stream.pipe(file)` on one node and `pipeline(source, stream)` on the other leave no stream
 * open. And a failure that costs nobody anything is not thrown at a process that stopped
 * listening: when the channel fails (the peer left or died, the cluster closed) while the stream
 * has no 'error' listener, everything the peer sent has arrived (or nobody reads it) and nothing
 * of ours is waiting to be sent, the stream closes without an 'error' event (the cause stays in
 * `channel.error`). Any other failure is emitted as 'error', as Node streams do.
 */
import { Duplex } from 'node:stream';
import type { GrapevineError, StreamChannel, StreamOptions } from '@grapevine/core';

export class ClusterStream extends Duplex {
  /** Bytes pushed while the readable buffer was full: granted back on the next _read. */
  private owed = 0;
  /** The peer ended its side: everything it will ever send is in our readable side. */
  private peerEnded = false;
  /** The channel failed in a way nobody needs to hear about (see the file comment). */
  private quietFailure: GrapevineError | undefined;

  constructor(readonly channel: StreamChannel, opts: StreamOptions = {}) {
    super({ allowHalfOpen: opts.allowHalfOpen ?? false });
    channel.setReceiver({
      onData: (chunk) => {
        if (this.push(chunk)) channel.consumed(chunk.length);
        else this.owed += chunk.length;
      },
      onEnd: () => {
        this.peerEnded = true;
        this.push(null);
      },
      onError: (err: GrapevineError) => this.onChannelError(err),
    });
  }

  /** The peer's node name. */
  get peer(): string {
    return this.channel.peer;
  }

  /** The value the opener passed to openStream. */
  get header(): unknown {
    return this.channel.header;
  }

  /** The message type the stream was opened for. */
  get type(): number {
    return this.channel.type;
  }

  override _read(): void {
    if (this.owed > 0) {
      const n = this.owed;
      this.owed = 0;
      this.channel.consumed(n);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.channel.write(chunk).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    // After a quiet failure there is nothing left to deliver: the end has no one to reach.
    if (this.quietFailure) return cb();
    this.channel.end().then(() => cb(), (err: Error) => (this.quietFailure ? cb() : cb(err)));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.channel.closed) this.channel.reset(err ? 'ERR_ABORTED' : 'ERR_CLOSED', err ? err.message : 'stream destroyed');
    cb(err);
  }

  private onChannelError(err: GrapevineError): void {
    if (this.destroyed) return;
    if (this.listenerCount('error') > 0 || !this.nothingLost()) {
      this.destroy(err);
      return;
    }
    this.quietFailure = err;
    // What the peer sent before it went is still being read: let the reader finish it; the stream
    // then ends and is destroyed as usual.
    if (this.peerEnded && !this.readableEnded && this.beingRead()) return;
    this.destroy();
  }

  /** Everything inbound has arrived (or nobody reads it) and nothing outbound is waiting. */
  private nothingLost(): boolean {
    const inbound = this.peerEnded || this.readableEnded || !this.beingRead();
    const outbound = this.writableFinished || (!this.writableEnded && this.writableLength === 0);
    return inbound && outbound;
  }

  private beingRead(): boolean {
    return this.readableFlowing === true || this.listenerCount('data') > 0 || this.listenerCount('readable') > 0;
  }
}

/** The wrapStream option createCluster passes to the core Cluster. */
export function toClusterStream(ch: StreamChannel, opts: StreamOptions = {}): ClusterStream {
  return new ClusterStream(ch, opts);
}
