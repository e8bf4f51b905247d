/**
 * What a failed dial tells the user. A seed that answers the upgrade with a plain HTTP status did
 * answer: the status says what is wrong (the path, the token), so the error says that, with a
 * stable code, instead of "cannot connect". Everything else stays ERR_UNREACHABLE.
 */
import { GrapevineError } from '@grapevine/core';
import { DEFAULT_PATH } from './ws-address.js';

/** The error for an upgrade answered with HTTP `status` instead of 101. */
export function httpRefusal(url: string, status: number, ourPath: string, sentToken: boolean): GrapevineError {
  let path = ourPath;
  try {
    path = new URL(url).pathname;
  } catch {
    // keep ourPath
  }
  if (status === 404) {
    const hint =
      path === DEFAULT_PATH
        ? `the seed serves Grapevine on another path: give it in the seed URL (ws://host:port/its-path) or set the same path on every node`
        : `the default path is ${DEFAULT_PATH}; the seed URL's path (or, for host:port seeds, this node's path option / --ws-path ${path}) must be the one the seed serves`;
    return new GrapevineError('ERR_WRONG_PATH', `ws: ${url} answered HTTP 404: nothing serves Grapevine at path ${path} there (${hint})`);
  }
  if (status === 401 || status === 403) {
    const why = sentToken
      ? 'the seed refused our bearer token: every node needs the same token (--ws-token-file, option ws.token)'
      : 'the seed requires a bearer token and this node has none: give every node the same token (--ws-token-file, option ws.token)';
    return new GrapevineError('ERR_UNAUTHORIZED', `ws: ${url} answered HTTP ${status}: ${why}`);
  }
  return new GrapevineError('ERR_UNREACHABLE', `ws: ${url} answered HTTP ${status} instead of a WebSocket upgrade: is it a Grapevine node's address?`);
}
