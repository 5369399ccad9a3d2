/**
 * Waiting, once for every package: deferred promises, `{ signal, timeout }` on an injected
 * clock, and what an abort rejects with. An abort rejects with the signal's reason when it
 * is an `Error`, and otherwise (`controller.abort('stop')`) with an `AbortError`
 * `DOMException`, as `AbortSignal` itself gives by default.
 * @module
 */
import { TimeoutError } from './errors.js';
import type { Clock, WaitOptions } from './types.js';

/**
 * The error an aborted `signal` stands for: its reason when that is an `Error`, otherwise a
 * new `AbortError` `DOMException`.
 */
export function abortReason(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : new DOMException('This operation was aborted', 'AbortError');
}

/** A promise with its resolve and reject. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

/**
 * Make a `Deferred`. Its promise has a no-op catch attached so that an unobserved rejection
 * is not fatal.
 */
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

/** How a `waiter` gives up. */
export interface WaiterOptions extends WaitOptions {
  /** The error after `timeout` ms. @defaultValue a `TimeoutError` naming `what` */
  readonly timeoutError?: () => Error;
  /** Names the wait in the default `TimeoutError`'s message. */
  readonly what?: string;
  /** Runs once when the wait is given up (abort or timeout), before the rejection. */
  readonly onCancel?: () => void;
  /** Runs once when the waiter settles, whichever way, before its promise settles. */
  readonly onSettle?: () => void;
}

/**
 * A `Deferred` that also rejects when `options.signal` aborts (with `abortReason`) or when
 * `options.timeout` ms pass on `clock`. Whichever comes first settles it; the timer and the
 * abort listener are removed at once, and later calls do nothing.
 */
export function waiter<T>(clock: Clock, options: WaiterOptions = {}): Deferred<T> {
  const { signal, timeout, onCancel, onSettle } = options;
  const inner = deferred<T>();
  let done = false;
  const finish = (): boolean => {
    if (done) return false;
    done = true;
    timer?.cancel();
    signal?.removeEventListener('abort', onAbort);
    onSettle?.();
    return true;
  };
  const giveUp = (error: Error): void => {
    if (!finish()) return;
    onCancel?.();
    inner.reject(error);
  };
  const onAbort = (): void => giveUp(abortReason(signal));
  let timer: { cancel(): void } | undefined;
  if (signal?.aborted) {
    onAbort();
  } else {
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeout !== undefined) {
      timer = clock.setTimeout(() => {
        const what = options.what ?? 'wait';
        giveUp(
          options.timeoutError?.() ?? new TimeoutError(`${what}: timed out after ${timeout} ms`),
        );
      }, timeout);
    }
  }
  return {
    promise: inner.promise,
    resolve(value) {
      if (finish()) inner.resolve(value);
    },
    reject(error) {
      if (finish()) inner.reject(error);
    },
  };
}

/**
 * Race `promise` against `options.signal` (rejects with `abortReason`) and `options.timeout`
 * (rejects with `TimeoutError`, timed on `clock`). `onCancel` runs when the wait is given up.
 * With neither option, `promise` itself is returned.
 */
export function withWait<T>(
  promise: Promise<T>,
  clock: Clock,
  options: WaitOptions | undefined,
  what: string,
  onCancel?: () => void,
): Promise<T> {
  if (options?.signal === undefined && options?.timeout === undefined) return promise;
  const w = waiter<T>(clock, { signal: options.signal, timeout: options.timeout, what, onCancel });
  promise.then(
    (v) => w.resolve(v),
    (e: unknown) => w.reject(e instanceof Error ? e : new Error(String(e))),
  );
  return w.promise;
}

/** `ms` on `clock`, or a rejection with `abortReason` if `signal` aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  const w = waiter<void>(clock, { signal });
  if (!signal?.aborted) {
    const timer = clock.setTimeout(() => w.resolve(), ms);
    w.promise.catch(() => timer.cancel());
  }
  return w.promise;
}

/** One signal for a whole wait: aborts with the caller's reason, or `TimeoutError` after `timeout` ms. */
export interface WaitSignal {
  readonly signal: AbortSignal;
  /** Remove the timer and the listener on the caller's signal. */
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
  const onAbort = (): void => ctl.abort(abortReason(outer));
  if (outer?.aborted) onAbort();
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

/** `promise`, or a rejection with `abortReason(signal)` if the signal aborts first. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
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
