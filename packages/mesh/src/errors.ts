/**
 * The bus's typed errors. Everything else it throws is a core GrapevineError with one of the
 * shared codes (ERR_INVALID_OPTION, ERR_TOO_LARGE, ERR_CLOSED, ERR_ABORTED, ERR_LIMIT,
 * ERR_DUPLICATE_HANDLER).
 */
import { GrapevineError } from '@grapevine/core';

/** publishAndAwait did not gather the acknowledgements it asked for before its timeout. */
export class QuorumTimeoutError extends GrapevineError {
  constructor(
    readonly key: string,
    /** Members that did acknowledge, in the order they did. */
    readonly acked: readonly string[],
    /** Distinct zones among them (members without a zone are not counted). */
    readonly zones: readonly string[],
    readonly wanted: { replicas: number; zones: number },
  ) {
    super(
      'ERR_QUORUM_TIMEOUT',
      `mesh: "${key}" acknowledged by ${acked.length} member(s) in ${zones.length} zone(s); wanted ${wanted.replicas} member(s) and ${wanted.zones} zone(s)`,
    );
    this.name = 'QuorumTimeoutError';
  }
}
