/** Stable error codes; users match on `code`, never on message text. */
export type ErrorCode =
  | 'ERR_CLOSED'
  | 'ERR_NOT_STARTED'
  | 'ERR_JOIN_FAILED'
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_ADDRESS'
  | 'ERR_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_TOO_LARGE'
  | 'ERR_UNREACHABLE'
  | 'ERR_DECODE'
  | 'ERR_LIMIT'
  /** A request handler on the other node threw; see RemoteError.remoteCode. */
  | 'ERR_REMOTE'
  /** The other node has no handler for the request or stream type. */
  | 'ERR_NO_HANDLER'
  /** The other node is running as many request handlers as limits.maxInboundRequests allows. */
  | 'ERR_BUSY'
  /** A message type below 128 (reserved for Grapevine) or above 65535. */
  | 'ERR_RESERVED_TYPE'
  /** A handler is already registered for this message type. */
  | 'ERR_DUPLICATE_HANDLER'
  /** The other node runs an incompatible protocol or application version. */
  | 'ERR_INCOMPATIBLE'
  /** The peer reset the stream or broke the stream protocol. */
  | 'ERR_STREAM_RESET'
  /** A WebSocket seed answered HTTP 404: nothing serves Grapevine at the path dialed. */
  | 'ERR_WRONG_PATH'
  /** A WebSocket seed answered HTTP 401/403: a missing or wrong bearer token. */
  | 'ERR_UNAUTHORIZED'
  /** The seed reached holds this node's name itself: another live node already has it. */
  | 'ERR_NAME_TAKEN'
  /** An acknowledged publish (mesh publishAndAwait) did not gather enough acknowledgements in time. */
  | 'ERR_QUORUM_TIMEOUT';

export class GrapevineError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GrapevineError';
    this.code = code;
  }
}

/** A request handler on another node threw: its code and message, as the handler gave them. */
export class RemoteError extends GrapevineError {
  constructor(
    /** The node whose handler failed. */
    readonly node: string,
    /** The `code` of the error the handler threw ('ERR_HANDLER' when it had none). */
    readonly remoteCode: string,
    message: string,
  ) {
    super('ERR_REMOTE', `${node}: ${message}`);
    this.name = 'RemoteError';
  }
}

/** One seed's reason in a failed join. */
export interface JoinFailure {
  readonly seed: string;
  readonly error: GrapevineError;
}

/**
 * A join that reached no seed: `failures` says, per seed, what happened (its `error.code`:
 * ERR_UNREACHABLE, ERR_TIMEOUT for no answer, ERR_WRONG_PATH, ERR_UNAUTHORIZED, ERR_NAME_TAKEN,
 * ERR_INCOMPATIBLE, ...); the message says it in words.
 */
export class JoinError extends GrapevineError {
  constructor(code: ErrorCode, message: string, readonly failures: readonly JoinFailure[]) {
    super(code, message, failures.length > 0 ? { cause: failures[0]!.error } : undefined);
    this.name = 'JoinError';
  }
}
