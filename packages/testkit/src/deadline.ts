import { GrapevineError } from '@grapevine/core';

/** Default upper bound for any wait in the conformance suites (ms). */
export const DEFAULT_WAIT_MS = 5000;

/** Settles like `promise`, or rejects with ERR_TIMEOUT naming `what` after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: unknown;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GrapevineError('ERR_TIMEOUT', `timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
