import { GrapevineError, formatHostPort, parseHostPort } from '@grapevine/core';

/** The path a transport serves, and the one a "host:port" address means, unless configured. */
export const DEFAULT_PATH = '/grapevine';

export type Scheme = 'ws' | 'wss';

const SCHEME_RE = /^(wss?):\/\/([^/?#]*)(.*)$/i;
/** Path characters that need no percent-encoding, so the dialed path and the served one compare as strings. */
const PATH_RE = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const MAX_URL_LENGTH = 2048;

/** Checks a path option ("/grapevine"): starts with "/", no query, no fragment, nothing to encode. */
export function checkPath(path: string): string {
  if (path.length > 1024 || !PATH_RE.test(path)) {
    throw new GrapevineError('ERR_INVALID_OPTION', `path must start with "/" and use URL path characters only, got "${path}"`);
  }
  return path;
}

/**
 * The canonical peer URL for an address: "ws(s)://host[:port]/path" as WHATWG URL prints it (the
 * default port of the scheme omitted, the host lower-cased). Accepts
 *  - ws:// and wss:// URLs; one without a path, or with the bare path "/", means `defaultPath`;
 *  - "host:port" and "[v6]:port", meaning `${scheme}://host:port${defaultPath}`.
 * Throws ERR_INVALID_ADDRESS for anything else (other schemes, user info, fragments, port 0).
 */
export function canonicalPeerUrl(input: string, defaultPath: string, scheme: Scheme = 'ws'): string {
  const s = input.trim();
  if (s.length === 0 || s.length > MAX_URL_LENGTH) throw invalid(input, 'empty or too long');
  const m = SCHEME_RE.exec(s);
  if (m === null) {
    if (s.includes('://')) throw invalid(input, 'only ws:// and wss:// URLs are supported');
    const hp = parseHostPort(s); // throws ERR_INVALID_ADDRESS itself
    if (hp.port === 0) throw invalid(input, 'port 0');
    return canonicalPeerUrl(`${scheme}://${formatHostPort(hp)}${defaultPath}`, defaultPath, scheme);
  }
  const rest = m[3] ?? '';
  // No path, or a bare "/" (ws://host:port/), means the default path: nobody serves gossip at "/".
  const bare = rest === '' || rest.startsWith('?') ? rest : rest === '/' || rest.startsWith('/?') ? rest.slice(1) : undefined;
  const withPath = bare !== undefined ? `${m[1]}://${m[2]}${defaultPath}${bare}` : s;
  let url: URL;
  try {
    url = new URL(withPath);
  } catch (err) {
    throw invalid(input, 'not a URL', err);
  }
  if (url.username !== '' || url.password !== '') throw invalid(input, 'user info is not allowed');
  if (url.hash !== '' || withPath.includes('#')) throw invalid(input, 'fragments are not allowed');
  if (url.hostname === '') throw invalid(input, 'missing host');
  if (url.port === '0') throw invalid(input, 'port 0');
  return `${url.protocol}//${url.host}${url.pathname}${url.search}`;
}

/** "host:port" of a canonical peer URL (the scheme's default port filled in). */
export function hostPortOf(peerUrl: string): string {
  const url = new URL(peerUrl);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (url.protocol === 'wss:' ? 443 : 80) : Number(url.port);
  return formatHostPort({ host, port });
}

function invalid(input: string, reason: string, cause?: unknown): GrapevineError {
  return new GrapevineError('ERR_INVALID_ADDRESS', `invalid WebSocket address "${input}": ${reason}`, { cause });
}
