import { WebSocket, type RawData } from 'ws';
import type { Logger } from '@grapevine/core';
import type { Peer } from './peer.js';
import { KIND_HELLO, KIND_PACKET, KIND_RELIABLE, decodeHello, type Hello } from './frames.js';

export interface LinkSettings {
  /** Our hello message, sent first on every link. */
  hello: Buffer;
  /** The peer's hello must arrive within this long (ms). */
  handshakeTimeout: number;
  /** Ping the peer this often (ms; 0 never). */
  pingInterval: number;
  /** Terminate the link when neither a pong nor a message arrives this long after a ping (ms). */
  pingTimeout: number;
  /** A graceful close that has not finished after this long (ms) becomes a terminate. */
  closeTimeout: number;
  /** Close the link when no message went either way for this long (ms; 0 never). */
  idleTimeout: number;
  /** Every this long after the hello, ask `isMember`; close the link when it says false (ms; 0 never). */
  memberTimeout: number;
  /** Whether the link's peer is a member of the cluster; undefined when nobody can tell. */
  isMember(link: Link): boolean | undefined;
  logger: Logger;
}

export interface LinkEvents {
  /** The peer's hello arrived; the link can carry messages. */
  onReady(link: Link): void;
  onMessage(link: Link, kind: number, payload: Uint8Array): void;
  /** The link refused inbound data (counted as dropped by the transport). */
  onDrop(link: Link, reason: string): void;
  onPingTimeout(link: Link): void;
  /** The link is being closed for carrying nothing (`idle`) or for a peer that is not a member. */
  onReap(link: Link, reason: 'idle' | 'not-member'): void;
  onClose(link: Link): void;
}

/**
 * `handshaking` until the peer's hello arrives, `open` while usable for sends, `retiring` while a
 * graceful close runs (inbound messages are still delivered), then `closed`.
 */
export type LinkState = 'handshaking' | 'open' | 'retiring' | 'closed';

/** One WebSocket to a peer, either direction: hello exchange, framing, liveness, closing. */
export class Link {
  state: LinkState = 'handshaking';
  /** The peer's hello, once it arrived. */
  peer: Hello | undefined;
  /** The peer's canonical advertised URL (set by the transport once it validated the hello). */
  peerUrl: string | undefined;
  /** What the transport reports as `from` (set by the transport when the hello arrives). */
  from: string;
  /** The peer entry whose sends wait for this inbound link's hello (the transport's business). */
  expectedBy: Peer | undefined;
  /** The peer entry that sends through this link (the transport's business). */
  owner: Peer | undefined;
  /** True once we sent a message on it: closing it then means waiting for the close to drain. */
  usedForSend = false;
  lastUsed = Date.now();
  /** When a valid message last went either way (Date.now()), the hello included. */
  lastActivity = Date.now();
  /** True once the peer sent a message after its hello. */
  delivered = false;
  readonly whenClosed: Promise<void>;
  private idleTimer: NodeJS.Timeout | undefined;
  private memberTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly ws: WebSocket,
    /** True when we dialed it. */
    readonly outbound: boolean,
    /** "host:port" of the other end as this side knows it before the hello. */
    readonly remote: string,
    private readonly settings: LinkSettings,
    private readonly events: LinkEvents,
  ) {
    this.from = remote;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => this.onData(data, isBinary));
    ws.on('pong', () => this.heard());
    // 'close' always follows 'error'; this only keeps errors from becoming uncaught exceptions.
    ws.on('error', (err) => settings.logger.debug({ err, remote }, 'ws link error'));
    this.whenClosed = new Promise((resolve) => {
      ws.once('close', () => {
        this.state = 'closed';
        this.clearTimers();
        try {
          events.onClose(this);
        } finally {
          resolve();
        }
      });
    });
    this.handshakeTimer = setTimeout(() => {
      events.onDrop(this, `no hello within ${settings.handshakeTimeout} ms`);
      ws.terminate();
    }, settings.handshakeTimeout);
    ws.send(settings.hello);
    if (settings.idleTimeout > 0) this.armIdle(settings.idleTimeout);
  }

  /** True while new messages may be written to it. */
  get usable(): boolean {
    return this.state === 'open' && this.ws.readyState === WebSocket.OPEN;
  }

  /** Bytes written to the link and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** Queues one message; call only while `usable`. */
  write(message: Buffer): void {
    this.usedForSend = true;
    this.lastUsed = this.lastActivity = Date.now();
    this.ws.send(message);
  }

  /**
   * Graceful close: what was written before goes out first, messages the peer sent before it saw
   * our close frame are still delivered. Terminated after `closeTimeout`.
   */
  retire(code = 1000, reason = ''): Promise<void> {
    if (this.state === 'closed' || this.state === 'retiring') return this.whenClosed;
    this.state = 'retiring';
    this.clearTimers();
    this.ws.close(code, reason);
    this.closeTimer = setTimeout(() => this.ws.terminate(), this.settings.closeTimeout);
    return this.whenClosed;
  }

  terminate(): Promise<void> {
    this.ws.terminate();
    return this.whenClosed;
  }

  private onData(raw: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    const data = raw as Buffer; // binaryType 'nodebuffer': always one Buffer
    if (!isBinary || data.byteLength === 0) {
      this.events.onDrop(this, 'text or empty message');
      return;
    }
    this.heard();
    const kind = data[0];
    if (this.peer === undefined) {
      const hello = kind === KIND_HELLO ? decodeHello(data) : undefined;
      if (hello === undefined) {
        this.events.onDrop(this, kind === KIND_HELLO ? 'malformed hello' : 'message before hello');
        this.ws.terminate();
        return;
      }
      this.peer = hello;
      this.lastActivity = Date.now();
      clearTimeout(this.handshakeTimer);
      this.handshakeTimer = undefined;
      if (this.state === 'handshaking') {
        this.state = 'open';
        this.startPinging();
        if (this.settings.memberTimeout > 0) this.armMemberCheck();
      }
      this.events.onReady(this);
      return;
    }
    if (kind !== KIND_PACKET && kind !== KIND_RELIABLE) {
      this.events.onDrop(this, kind === KIND_HELLO ? 'second hello' : `unknown message kind ${String(kind)}`);
      return;
    }
    this.delivered = true;
    this.lastActivity = Date.now();
    // A copy that owns its memory: the receiver may keep it, and it must not pin a socket chunk.
    this.events.onMessage(this, kind, new Uint8Array(data.subarray(1)));
  }

  /** Re-armed for what is left of the idle time, so traffic costs a timestamp, not a timer per message. */
  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.state === 'closed' || this.state === 'retiring') return;
      const quiet = Date.now() - this.lastActivity;
      if (quiet < this.settings.idleTimeout) {
        this.armIdle(this.settings.idleTimeout - quiet);
        return;
      }
      this.events.onReap(this, 'idle');
    }, ms);
    this.idleTimer.unref();
  }

  private armMemberCheck(): void {
    this.memberTimer = setTimeout(() => {
      this.memberTimer = undefined;
      if (this.state !== 'open') return;
      if (this.settings.isMember(this) === false) this.events.onReap(this, 'not-member');
      else this.armMemberCheck();
    }, this.settings.memberTimeout);
    this.memberTimer.unref();
  }

  private startPinging(): void {
    if (this.settings.pingInterval === 0) return;
    this.pingTimer = setInterval(() => this.ping(), this.settings.pingInterval);
    this.pingTimer.unref();
  }

  private ping(): void {
    if (this.pongTimer !== undefined || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.ping();
    this.pongTimer = setTimeout(() => {
      this.pongTimer = undefined;
      if (this.state === 'closed') return;
      this.events.onPingTimeout(this);
      this.ws.terminate();
    }, this.settings.pingTimeout);
    this.pongTimer.unref();
  }

  /** Anything from the peer (a pong, a message) proves the socket alive. */
  private heard(): void {
    if (this.pongTimer === undefined) return;
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  private clearTimers(): void {
    clearTimeout(this.handshakeTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.idleTimer);
    clearTimeout(this.memberTimer);
    this.handshakeTimer = this.pingTimer = this.pongTimer = this.idleTimer = this.memberTimer = undefined;
    if (this.state === 'closed') clearTimeout(this.closeTimer);
  }
}
