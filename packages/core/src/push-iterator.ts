/**
 * An async iterator fed by pushes: the producer calls `push(value)` and `end(error?)`, the
 * consumer reads with `for await`. Used for every "events from now on" stream in cpgkit.
 * @module
 */
import { abortReason } from './wait.js';

/** Options of a {@link PushIterator}. */
export interface PushIteratorOptions<T> {
  /** Values buffered from the start; read even if the iterator starts ended (aborted `signal`). */
  readonly initial?: Iterable<T>;
  /** Ends the iterator when it aborts (see `abort`). An already aborted signal ends it at once. */
  readonly signal?: AbortSignal;
  /**
   * What an abort of `signal` does. `'end'`: the same as `end()`, buffered values are still
   * read, then the iterator is done. `'throw'`: buffered values are dropped and the next
   * `next()` rejects with `signal.reason` (an `AbortError` `DOMException` when the reason is
   * not an `Error`), then the iterator is done.
   * @defaultValue `'end'`
   */
  readonly abort?: 'end' | 'throw';
  /**
   * Cleanup (unsubscribe, remove listeners): runs exactly once, synchronously, when the
   * iterator ends for any reason: `end()`, an abort of `signal`, or `return()` (a `break` out
   * of `for await`). Runs inside the constructor when `signal` is already aborted.
   */
  readonly onEnd?: () => void;
}

interface Waiter<T> {
  resolve(result: IteratorResult<T, undefined>): void;
  reject(error: unknown): void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * An unbounded FIFO async iterator fed by `push`. Values are read in push order; pushes after
 * the end are ignored. Several pending `next()` calls are served in call order.
 *
 * @example
 * ```ts
 * const it = new PushIterator<number>({ signal, onEnd: () => off() });
 * const off = source.on('value', (v) => it.push(v));
 * for await (const v of it) console.log(v); // until it.end(), an abort, or a break
 * ```
 */
export class PushIterator<T> implements AsyncIterableIterator<T, undefined, undefined> {
  readonly #buf: T[] = [];
  #head = 0;
  readonly #waiters: Waiter<T>[] = [];
  #ended = false;
  #error: Error | undefined = undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #throwOnAbort: boolean;
  readonly #onEnd: (() => void) | undefined;
  readonly #onAbort = (): void => {
    if (!this.#throwOnAbort) return this.end();
    this.#clear();
    this.end(abortReason(this.#signal));
  };

  /** A new iterator; see {@link PushIteratorOptions}. */
  constructor(options: PushIteratorOptions<T> = {}) {
    for (const v of options.initial ?? []) this.#buf.push(v);
    this.#signal = options.signal;
    this.#throwOnAbort = options.abort === 'throw';
    this.#onEnd = options.onEnd;
    if (this.#signal?.aborted) this.#onAbort();
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Whether the iterator has ended (values may still be buffered for reading). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Hand `value` to a waiting reader, or buffer it. Ignored after the end. */
  push(value: T): void {
    if (this.#ended) return;
    const w = this.#waiters.shift();
    if (w !== undefined) w.resolve({ value, done: false });
    else this.#buf.push(value);
  }

  /**
   * No more values: readers get what is buffered, then the end, or `error` once when one is
   * given (then the end). Runs `onEnd`. Idempotent: only the first call counts.
   */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#error = error;
    // waiters exist only while the buffer is empty
    for (const w of this.#waiters.splice(0)) {
      const e = this.#error;
      this.#error = undefined;
      if (e !== undefined) w.reject(e);
      else w.resolve(DONE);
    }
    this.#onEnd?.();
  }

  /** The next value; waits for a push or the end. */
  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#head < this.#buf.length) {
      const value = this.#buf[this.#head]!;
      this.#buf[this.#head++] = undefined as T;
      if (this.#head === this.#buf.length) this.#clear();
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) {
      const e = this.#error;
      if (e === undefined) return Promise.resolve(DONE);
      this.#error = undefined;
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Stop reading: drops what is buffered, ends the iterator (runs `onEnd`), and is done. */
  return(): Promise<IteratorResult<T, undefined>> {
    this.#clear();
    this.#error = undefined;
    this.end();
    return Promise.resolve(DONE);
  }

  /** The iterator itself. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  #clear(): void {
    this.#buf.length = 0;
    this.#head = 0;
  }
}

/**
 * An async iterator over a callback subscription: `subscribe(push, end)` starts it and returns
 * its unsubscribe function, which runs exactly once when the iterator ends (`end()` from the
 * source, an abort of `options.signal`, or a `break` out of `for await`), also when the source
 * ends it from inside `subscribe`. With an already aborted signal, `subscribe` is not called.
 * @example
 * ```ts
 * return subscriptionIterator<Change>((push, end) => {
 *   const off = machine.subscribe(push);
 *   const offClosed = machine.on('closed', () => end());
 *   return () => { off(); offClosed(); };
 * }, { signal });
 * ```
 */
export function subscriptionIterator<T>(
  subscribe: (push: (value: T) => void, end: (error?: Error) => void) => () => void,
  options: Omit<PushIteratorOptions<T>, 'onEnd'> = {},
): PushIterator<T> {
  let unsubscribe: (() => void) | undefined;
  let ended = false;
  const it = new PushIterator<T>({
    ...options,
    onEnd: () => {
      ended = true;
      unsubscribe?.();
    },
  });
  if (ended) return it;
  const off = subscribe(
    (value) => it.push(value),
    (error) => it.end(error),
  );
  if (ended) off();
  else unsubscribe = off;
  return it;
}
