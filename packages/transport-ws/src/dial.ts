/**
 * Dialing one peer: open the WebSocket, wait for the upgrade and the peer's hello within the
 * handshake timeout, and settle exactly once. Kept apart from the transport class, which decides
 * when to dial (backoff, connection limit, tie-breaks) and what the link is then used for.
 */
import { WebSocket, type ClientOptions } from 'ws';
import { GrapevineError } from '@grapevine/core';
import { httpRefusal } from './dial-failure.js';
import { Link, type LinkEvents, type LinkSettings } from './link.js';
import type { PeerLink } from './peer.js';
import { hostPortOf } from './ws-address.js';

/** What a dial reads from its transport; functions where the value is only known after start(). */
export interface DialContext {
  clientOptions(): ClientOptions;
  linkSettings(): LinkSettings | undefined;
  linkEvents(): LinkEvents;
  /** Sockets still upgrading: the transport terminates them when it closes. */
  readonly dials: Set<WebSocket>;
  /** Every open link; a dial adds its link once the upgrade completed. */
  readonly links: Set<PeerLink>;
  /** Validates the peer's hello; false (link terminated) when its URL is unusable. */
  identify(link: PeerLink): boolean;
  handshakeTimeout(): number;
  path(): string;
  hasToken(): boolean;
}

/** Settles a dial stopped because the peer's own connection arrived first and wins the tie-break. */
export const SUPERSEDED = new GrapevineError('ERR_UNREACHABLE', "ws: dial stopped; the peer's own connection carries the sends");

export function unreachable(url: string, reason: string, cause?: unknown): GrapevineError {
  return new GrapevineError('ERR_UNREACHABLE', `ws: cannot connect to ${url}: ${reason}`, { cause });
}

/**
 * Opens a link to `url` and waits for the peer's hello; `done` runs exactly once, with SUPERSEDED
 * when the returned function stopped the dial first.
 */
export function dialLink(url: string, ctx: DialContext, done: (err: GrapevineError | undefined, link?: PeerLink) => void): () => void {
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, ctx.clientOptions());
  } catch (err) {
    queueMicrotask(() => done(unreachable(url, err instanceof Error ? err.message : String(err), err)));
    return () => undefined;
  }
  ctx.dials.add(ws);
  let settled = false;
  const fail = (reason: string, cause?: unknown, err?: GrapevineError): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    ctx.dials.delete(ws);
    ws.terminate();
    done(err ?? unreachable(url, reason, cause));
  };
  const timeout = ctx.handshakeTimeout();
  const timer = setTimeout(() => fail(`no handshake within ${timeout} ms`), timeout);
  // Stays attached: after the dial settled it is a no-op, and the link logs errors itself.
  ws.on('error', (err) => fail(err.message, err));
  // An HTTP answer instead of the upgrade says why (wrong path, token): fail with that reason.
  ws.once('unexpected-response', (_req, res) => fail('', undefined, httpRefusal(url, res.statusCode ?? 0, ctx.path(), ctx.hasToken())));
  ws.once('close', () => fail('closed during the handshake'));
  ws.once('open', () => {
    const settings = ctx.linkSettings();
    if (settled || settings === undefined) return;
    ctx.dials.delete(ws);
    const link: PeerLink = new Link(ws, true, hostPortOf(url), settings, {
      ...ctx.linkEvents(),
      onReady: (l) => {
        if (settled) return;
        if (!ctx.identify(l)) {
          fail('the peer sent a bad hello');
          return;
        }
        settled = true;
        clearTimeout(timer);
        done(undefined, l);
      },
    });
    ctx.links.add(link);
  });
  return () => fail('superseded', undefined, SUPERSEDED);
}
