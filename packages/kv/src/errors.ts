/**
 * The KV's typed errors. Users match on `code`, never on message text. A replica that refuses a
 * write throws one of these inside its request handler; the coordinator sees it as a RemoteError
 * whose `remoteCode` is the same code, and counts the replica as not acknowledging.
 */
export type KvErrorCode =
  /** Fewer owners answered than the call's quorum (W for writes, R for reads): see `answered`. */
  | 'ERR_QUORUM'
  /** A key that is empty or longer than maxKeyBytes (UTF-8). */
  | 'ERR_KEY'
  /** A value longer than maxValueBytes (after encoding). */
  | 'ERR_VALUE_TOO_LARGE'
  /** The node's memory budget (maxBytes) is held by entries that may not be evicted. */
  | 'ERR_KV_FULL'
  /** A bad option or argument (ttl, quorum sizes, codec output). */
  | 'ERR_KV_ARGUMENT'
  /** The store was closed. */
  | 'ERR_KV_CLOSED';

export class KvError extends Error {
  readonly code: KvErrorCode;
  constructor(code: KvErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KvError';
    this.code = code;
  }
}

/** A call could not reach its quorum. Never a silent success: the caller learns how many answered. */
export class QuorumError extends KvError {
  constructor(
    readonly op: 'get' | 'set' | 'delete' | 'expire',
    /** Owners that answered (acknowledged a write, or returned a read). */
    readonly answered: number,
    /** The quorum the call needed. */
    readonly required: number,
    /** Owners the call was sent to. */
    readonly owners: number,
    /** Why the others did not answer, one line each. */
    readonly failures: string[],
  ) {
    super('ERR_QUORUM', `${op}: ${answered} of ${required} required owners answered (${owners} owners${failures.length ? `; ${failures.join('; ')}` : ''})`);
    this.name = 'QuorumError';
  }
}
