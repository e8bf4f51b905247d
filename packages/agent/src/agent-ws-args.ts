/**
 * The agent's WebSocket flags: --ws-path, --ws-token-file, --ws-cert-file/--ws-key-file (serve
 * wss://) and --ws-ca-file (trust for dialing wss:// peers). Files are read here (flag-file.ts), so
 * an unreadable, malformed or special one is a usage error (exit 2) before anything binds, and a
 * token is never echoed; a token or private key file others may read adds a warning.
 */
import { DEFAULT_PATH } from '@grapevine/transport-ws';
import { MAX_PEM_FILE_BYTES, MAX_TOKEN_FILE_BYTES, readFlagFile } from './flag-file.js';
import { UsageError } from './usage-error.js';
import type { WsClusterOptions } from '@grapevine/node/internal';

export interface AgentWsSettings {
  path: string;
  /** The bearer token read from --ws-token-file. */
  token?: string;
  tokenFile?: string;
  /** PEM text of --ws-cert-file / --ws-key-file (both or neither) and --ws-ca-file. */
  cert?: string;
  key?: string;
  ca?: string;
}

const WS_FLAGS = ['ws-path', 'ws-token-file', 'ws-cert-file', 'ws-key-file', 'ws-ca-file'] as const;
type WsFlag = (typeof WS_FLAGS)[number];

/** What a bearer token may hold: printable ASCII without spaces (what the transport accepts). */
const TOKEN_RE = /^[\x21-\x7e]{1,4096}$/;
const PATH_RE = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

export function parseWsFlags(values: Partial<Record<WsFlag, string>>, transport: string, warnings: string[] = []): AgentWsSettings | undefined {
  const given = WS_FLAGS.filter((f) => values[f] !== undefined);
  if (transport !== 'ws') {
    if (given.length > 0) fail(`--${given[0]} needs --transport ws`);
    return undefined;
  }
  const path = values['ws-path'] ?? DEFAULT_PATH;
  if (path.length > 1024 || !PATH_RE.test(path)) fail(`--ws-path must start with "/" and use URL path characters only, got "${path}"`);
  const out: AgentWsSettings = { path };
  const tokenFile = values['ws-token-file'];
  if (tokenFile !== undefined) {
    out.token = readToken(tokenFile, warnings);
    out.tokenFile = tokenFile;
  }
  const certFile = values['ws-cert-file'];
  const keyFile = values['ws-key-file'];
  if ((certFile === undefined) !== (keyFile === undefined)) fail('--ws-cert-file and --ws-key-file go together (they serve wss://)');
  if (certFile !== undefined && keyFile !== undefined) {
    out.cert = readPem('--ws-cert-file', certFile, 'CERTIFICATE');
    out.key = readPem('--ws-key-file', keyFile, 'PRIVATE KEY', warnings);
  }
  const caFile = values['ws-ca-file'];
  if (caFile !== undefined) out.ca = readPem('--ws-ca-file', caFile, 'CERTIFICATE');
  return out;
}

/** The createCluster `ws` option for these settings. */
export function wsClusterOptions(s: AgentWsSettings): WsClusterOptions {
  return {
    path: s.path,
    ...(s.token !== undefined ? { token: s.token } : {}),
    ...(s.cert !== undefined && s.key !== undefined ? { https: { cert: s.cert, key: s.key } } : {}),
    ...(s.ca !== undefined ? { tls: { ca: s.ca } } : {}),
  };
}

function readToken(file: string, warnings: string[]): string {
  const text = readFlagFile('agent', '--ws-token-file', file, { maxBytes: MAX_TOKEN_FILE_BYTES, secret: true, warnings });
  // One token on the first non-empty line; surrounding whitespace and a trailing newline are not part of it.
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length === 0) fail(`--ws-token-file ${file}: the file is empty`);
  if (lines.length > 1) fail(`--ws-token-file ${file}: the file must hold one token on one line`);
  const token = lines[0]!.replace(/^\uFEFF/, '');
  if (!TOKEN_RE.test(token)) fail(`--ws-token-file ${file}: a token must be 1..4096 printable ASCII characters without spaces`);
  return token;
}

function readPem(flag: string, file: string, kind: string, warnings?: string[]): string {
  const text = readFlagFile('agent', flag, file, { maxBytes: MAX_PEM_FILE_BYTES, ...(warnings ? { secret: true, warnings } : {}) });
  if (!text.includes('-----BEGIN ') || !text.includes(kind)) fail(`${flag} ${file}: not a PEM file holding a ${kind.toLowerCase()}`);
  return text;
}

function fail(message: string): never {
  throw new UsageError(`grapevine agent: ${message}`);
}
