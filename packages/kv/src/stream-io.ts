/**
 * One shape for the two kinds of stream a Cluster hands out: core's StreamChannel (the core Cluster,
 * the simulator) or a Node Duplex wrapping one (createCluster). The KV only needs "write with
 * backpressure", "end", and "tell me about data, end and errors", so both reduce to this.
 */
import type { StreamChannel } from '@grapevine/core';

export interface ByteStream {
  write(chunk: Uint8Array): Promise<void>;
  end(): Promise<void>;
  reset(message: string): void;
  listen(on: { data(chunk: Uint8Array): void; end(): void; error(err: Error): void }): void;
}

interface DuplexLike {
  write(chunk: Uint8Array): boolean;
  end(cb?: () => void): unknown;
  once(ev: string, fn: (...a: unknown[]) => void): unknown;
  on(ev: string, fn: (...a: unknown[]) => void): unknown;
  off(ev: string, fn: (...a: unknown[]) => void): unknown;
  destroy(err?: Error): unknown;
  destroyed?: boolean;
}

function isChannel(s: unknown): s is StreamChannel {
  return typeof (s as StreamChannel).setReceiver === 'function' && typeof (s as StreamChannel).consumed === 'function';
}

export function byteStream(s: unknown): ByteStream {
  if (isChannel(s)) {
    return {
      write: (c) => s.write(c),
      end: () => s.end(),
      reset: (m) => s.reset('ERR_ABORTED', m),
      listen: (on) =>
        s.setReceiver({
          onData: (c) => {
            on.data(c);
            s.consumed(c.length);
          },
          onEnd: () => on.end(),
          onError: (e) => on.error(e),
        }),
    };
  }
  const d = s as DuplexLike;
  return {
    write: (c) =>
      new Promise<void>((resolve, reject) => {
        if (d.destroyed) return reject(new Error('stream destroyed'));
        if (d.write(c)) return resolve();
        // Wait for 'drain' or an error, whichever comes first, and take the other listener off.
        const onErr = (e: unknown): void => {
          d.off('drain', onDrain);
          reject(e as Error);
        };
        const onDrain = (): void => {
          d.off('error', onErr);
          resolve();
        };
        d.once('error', onErr);
        d.once('drain', onDrain);
      }),
    end: () => new Promise<void>((resolve) => void d.end(() => resolve())),
    reset: (m) => void d.destroy(new Error(m)),
    listen: (on) => {
      d.on('data', (c) => on.data(c as Uint8Array));
      d.on('end', () => on.end());
      d.on('error', (e) => on.error(e as Error));
    },
  };
}
