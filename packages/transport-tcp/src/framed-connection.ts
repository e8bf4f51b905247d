import type { Socket } from 'node:net';
import { GrapevineError, type Logger } from '@grapevine/core';
import { FrameDecoder, encodeFrameHeader } from './frame-decoder.js';
import { formatRemoteAddress } from '@grapevine/core';

export interface ConnectionSettings {
  maxFrameBytes: number;
  /** Close a connection with no traffic for this long (ms; 0 never). */
  idleTimeout: number;
  /** Drop a connection whose peer stops sending in the middle of a frame for this long (ms). */
  readTimeout: number;
  /** Drop a connection whose frame has not completed this long after its first byte (ms). */
  frameTimeout: number;
  logger: Logger;
}

export interface ConnectionEvents {
  onFrame(frame: Uint8Array, conn: FramedConnection): void;
  /** The peer broke the framing or stalled mid-frame; the connection is being destroyed. */
  onDrop(conn: FramedConnection, reason: string): void;
}

/**
 * Which socket timeout is armed: `idle` between frames, `read` while a frame is half received,
 * `closing` after we ended our side and wait for the peer to end its own.
 */
type TimeoutMode = 'idle' | 'read' | 'closing';

/**
 * One TCP socket carrying length-prefixed frames both ways.
 *
 * Two deadlines bound a frame being received: `readTimeout` since the last byte (a stalled peer)
 * and `frameTimeout` since the frame's first byte (a peer trickling a byte every few hundred ms,
 * which the first never catches). Either closes the connection, so a slot is never held by a
 * frame that does not arrive.
 */
export class FramedConnection {
  /** The peer's "host:port" as the socket sees it. */
  readonly remote: string;
  /** True for a connection the peer opened to us. */
  readonly inbound: boolean;
  /** When it opened (Date.now()). */
  readonly openedAt = Date.now();
  /** When it last delivered a complete frame (Date.now()); undefined while it never has. */
  lastFrameAt: number | undefined;
  /** Resolves once the socket has fully closed. */
  readonly whenClosed: Promise<void>;
  private readonly decoder: FrameDecoder;
  private drainWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private mode: TimeoutMode = 'idle';
  private closed = false;
  private frameTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly settings: ConnectionSettings,
    private readonly events: ConnectionEvents,
    inbound = false,
  ) {
    this.inbound = inbound;
    this.remote = formatRemoteAddress(socket.remoteAddress ?? '0.0.0.0', socket.remotePort ?? 0);
    this.decoder = new FrameDecoder(settings.maxFrameBytes);
    socket.setNoDelay(true);
    socket.setTimeout(settings.idleTimeout);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.settleDrainWaiters());
    socket.on('timeout', () => this.onTimeout());
    // 'close' always follows 'error'; the listener only keeps an error from becoming an uncaught exception.
    socket.on('error', (err) => settings.logger.debug({ err, remote: this.remote }, 'tcp connection error'));
    this.whenClosed = new Promise((resolve) => {
      socket.once('close', () => {
        this.closed = true;
        clearTimeout(this.frameTimer);
        this.settleDrainWaiters(new GrapevineError('ERR_UNREACHABLE', `tcp connection to ${this.remote} closed`));
        resolve();
      });
    });
  }

  /** False once either side started closing: new messages need a new connection. */
  get writable(): boolean {
    return !this.closed && this.mode !== 'closing' && this.socket.writable;
  }

  /**
   * Queues one frame. Resolves at once when the socket's buffer is under its high-water mark, else
   * when it drains, so a fast sender cannot buffer without bound.
   */
  write(data: Uint8Array): Promise<void> {
    if (!this.writable) {
      return Promise.reject(new GrapevineError('ERR_UNREACHABLE', `tcp connection to ${this.remote} is closing`));
    }
    // Corked, the header and body leave in one writev instead of two segments.
    this.socket.cork();
    this.socket.write(encodeFrameHeader(data.byteLength));
    const belowHighWaterMark = this.socket.write(data);
    this.socket.uncork();
    if (belowHighWaterMark) return Promise.resolve();
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /** Graceful close (idle, evicted): end our side; destroyed if the peer does not end its own in time. */
  end(): void {
    if (this.closed || this.mode === 'closing') return;
    this.setMode('closing');
    this.socket.end();
  }

  /** Bytes held for the frame being received (see FrameDecoder.bufferedBytes). */
  get bufferedBytes(): number {
    return this.decoder.bufferedBytes;
  }

  /** Bytes of the frame being received so far, its length prefix included. */
  get partialFrameBytes(): number {
    return this.decoder.receivedBytes;
  }

  /** Memory objects held for the frame being received: one per block, never one per segment. */
  get bufferedChunks(): number {
    return this.decoder.bufferedChunks;
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.whenClosed;
  }

  private onData(chunk: Buffer): void {
    const wasMidFrame = this.decoder.midFrame;
    let frames = 0;
    const ok = this.decoder.push(chunk, (frame) => {
      frames++;
      if (!this.socket.destroyed) this.events.onFrame(frame, this);
    });
    if (!ok) {
      this.drop('bad frame length prefix');
      return;
    }
    if (frames > 0) this.lastFrameAt = Date.now();
    const midFrame = this.decoder.midFrame;
    // The deadline runs from the first byte of the frame now partial: a new one when a frame started in this chunk.
    if (!midFrame) {
      clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    } else if (!wasMidFrame || frames > 0 || this.frameTimer === undefined) {
      clearTimeout(this.frameTimer);
      this.frameTimer = setTimeout(() => this.drop(`frame not complete within frameTimeout (${this.settings.frameTimeout} ms)`), this.settings.frameTimeout);
      this.frameTimer.unref();
    }
    if (this.mode !== 'closing') this.setMode(midFrame ? 'read' : 'idle');
  }

  private onTimeout(): void {
    if (this.mode === 'read') this.drop('read stalled mid-frame');
    else if (this.mode === 'idle') this.end();
    else this.socket.destroy();
  }

  private drop(reason: string): void {
    if (this.socket.destroyed) return;
    this.events.onDrop(this, reason);
    this.socket.destroy();
  }

  private setMode(mode: TimeoutMode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.socket.setTimeout(mode === 'idle' ? this.settings.idleTimeout : this.settings.readTimeout);
  }

  private settleDrainWaiters(err?: Error): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) {
      if (err === undefined) w.resolve();
      else w.reject(err);
    }
  }
}
