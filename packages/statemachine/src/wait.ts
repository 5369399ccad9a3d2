/**
 * Waiting with `{ signal, timeout }` on an injected clock.
 * @module
 */
import { TimeoutError, type Clock, type WaitOptions } from '@cpgkit/core';

/**
 * Race `promise` against `options.signal` (rejects with its reason) and `options.timeout`
 * (rejects with `TimeoutError`, timed on `clock`). `onCancel` runs when the wait is given up.
 */
export function withWait<T>(
  promise: Promise<T>,
  clock: Clock,
  options: WaitOptions | undefined,
  what: string,
  onCancel?: () => void,
): Promise<T> {
  const signal = options?.signal;
  const timeout = options?.timeout;
  if (signal === undefined && timeout === undefined) return promise;
  if (signal?.aborted) {
    onCancel?.();
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (): void => {
      done = true;
      timer?.cancel();
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      if (done) return;
      finish();
      onCancel?.();
      reject(signal!.reason as Error);
    };
    const timer =
      timeout === undefined
        ? undefined
        : clock.setTimeout(() => {
            if (done) return;
            finish();
            onCancel?.();
            reject(new TimeoutError(`${what}: timed out after ${timeout} ms`));
          }, timeout);
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        if (done) return;
        finish();
        resolve(v);
      },
      (e: unknown) => {
        if (done) return;
        finish();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** A promise with its resolve and reject. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

/** Make a `Deferred`. Its promise has a no-op catch attached so an unobserved rejection is not fatal. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
