/**
 * Small helpers for `{ signal, timeout }` waits on an injected clock.
 * @module
 */
import { TimeoutError, type Clock, type WaitOptions } from '@cpgkit/core';

/** One signal for a whole wait: aborts with the caller's reason, or `TimeoutError` after `timeout` ms. */
export interface WaitSignal {
  readonly signal: AbortSignal;
  dispose(): void;
}

/**
 * Combine `options.signal` and `options.timeout` (timed on `clock`) into one signal.
 * @param what - names the wait in the `TimeoutError` message
 */
export function waitSignal(
  clock: Clock,
  options: WaitOptions | undefined,
  what: string,
): WaitSignal {
  const ctl = new AbortController();
  const outer = options?.signal;
  const onAbort = (): void => ctl.abort(outer?.reason);
  if (outer?.aborted) ctl.abort(outer.reason);
  else outer?.addEventListener('abort', onAbort, { once: true });
  const timeout = options?.timeout;
  const timer =
    timeout === undefined
      ? undefined
      : clock.setTimeout(
          () => ctl.abort(new TimeoutError(`${what}: timed out after ${timeout} ms`)),
          timeout,
        );
  return {
    signal: ctl.signal,
    dispose() {
      timer?.cancel();
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

/** `promise`, or a rejection with `signal.reason` if the signal aborts first. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
