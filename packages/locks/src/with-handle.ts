/**
 * Run a function while holding a lock (or any handle with a signal and a release).
 * @module
 */

/** What `withHandle` needs of a held lock. */
export interface Held {
  /** Aborts when the handle can no longer be trusted. */
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

/**
 * Wait for `acquire`, run `fn` with the handle's signal and the handle, and release it when
 * `fn` returns or throws (the release is awaited before the result is handed on).
 * @example
 * ```ts
 * await withHandle(locks.acquire('report'), async (signal, lock) => write(lock.token, signal));
 * ```
 */
export async function withHandle<H extends Held, T>(
  acquire: Promise<H>,
  fn: (signal: AbortSignal, handle: H) => Promise<T> | T,
): Promise<T> {
  const handle = await acquire;
  try {
    return await fn(handle.signal, handle);
  } finally {
    await handle.release();
  }
}
