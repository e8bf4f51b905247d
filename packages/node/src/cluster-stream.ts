/**
 * Application streams as Node Duplex streams. The core StreamChannel does the protocol (ordering,
 * credit-based flow control, half-close, reset); this maps it onto Node's stream contract:
 * - a write completes when the channel had credit for it, so `write()` returning false and
 *   'drain' mean what they always mean;
 * - bytes are granted back to the sender only once they are pushed into the readable side with
 *   room to spare, or when the consumer asks for more (_read), so a reader that stops reading stops
 *   the writer on the other node after one window;
 * - end() half-closes (the peer sees 'end'), destroy() resets the stream on both sides.
 */
import { Duplex } from 'node:stream';
import type { GrapevineError, StreamChannel } from '@grapevine/core';

export class ClusterStream extends Duplex {
  /** Bytes pushed while the readable buffer was full: granted back on the next _read. */
  private owed = 0;

  constructor(readonly channel: StreamChannel) {
    super({ allowHalfOpen: true });
    channel.setReceiver({
      onData: (chunk) => {
        if (this.push(chunk)) channel.consumed(chunk.length);
        else this.owed += chunk.length;
      },
      onEnd: () => this.push(null),
      onError: (err: GrapevineError) => this.destroy(err),
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
    this.channel.end().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.channel.closed) this.channel.reset(err ? 'ERR_ABORTED' : 'ERR_CLOSED', err ? err.message : 'stream destroyed');
    cb(err);
  }
}

/** The wrapStream option createCluster passes to the core Cluster. */
export function toClusterStream(ch: StreamChannel): ClusterStream {
  return new ClusterStream(ch);
}
