/**
 * Promises a node settles later and waits a caller may abort: the small pieces join, leave and
 * createNode share. An abort rejects the caller's wait only (TOTEM_ERR_ABORTED); what the wait
 * was for goes on unless the caller's code takes it back.
 */
import { abortedError } from '../call-errors.js';

export { deferred } from '../../workers/deferred.js';
export type { Deferred } from '../../workers/deferred.js';

/** `promise`, or TOTEM_ERR_ABORTED when `signal` fires first (for this caller only). */
export function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return promise.then((v) => v);
  if (signal.aborted) return Promise.reject(abortedError(what, signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError(what, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Call `onAbort` when `signal` fires before `settled` settles; stop listening once it has, so that
 * a long-lived signal does not keep one listener per finished join or leave.
 */
export function onAbortUntil(
  signal: AbortSignal | undefined,
  settled: Promise<unknown>,
  onAbort: (signal: AbortSignal) => void,
): void {
  if (signal === undefined) return;
  const listener = (): void => onAbort(signal);
  signal.addEventListener('abort', listener, { once: true });
  const cleanup = (): void => signal.removeEventListener('abort', listener);
  settled.then(cleanup, cleanup);
}
