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
  | 'ERR_LIMIT';

export class GrapevineError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GrapevineError';
    this.code = code;
  }
}
