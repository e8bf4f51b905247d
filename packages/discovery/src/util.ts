import { GrapevineError } from '@grapevine/core';

export function abortError(): GrapevineError {
  return new GrapevineError('ERR_ABORTED', 'aborted');
}

export function isAbort(err: unknown): boolean {
  return err instanceof GrapevineError && err.code === 'ERR_ABORTED';
}

/**
 * `work`, unless `ms` pass first (rejects ERR_TIMEOUT) or `signal` aborts (rejects ERR_ABORTED).
 * The timer is unref'd and cleared; a late rejection of `work` is swallowed.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, signal?: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const timer = setTimeout(() => {
      cleanup();
      reject(new GrapevineError('ERR_TIMEOUT', `timed out after ${ms} ms`));
    }, ms);
    timer.unref();
    const onAbort = (): void => {
      cleanup();
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    function cleanup(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    work.then(
      (v) => {
        cleanup();
        resolve(v);
      },
      (err: unknown) => {
        cleanup();
        reject(err);
      },
    );
  });
}
