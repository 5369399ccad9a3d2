/**
 * A counting semaphore view over `Locks`.
 * @module
 */
import type { WaitOptions } from '@cpgkit/core';
import type { Lock } from './lock.js';
import type { AcquireOptions, LockSpec, Requester } from './types.js';
import { withHandle } from './with-handle.js';

/** Set by `Semaphore`'s static block: the only way to make one (see `semaphoreView`). */
let makeSemaphore: (name: string, permits: number, request: Requester) => Semaphore;

/**
 * Up to `permits` holders at once, granted FIFO. Every permit is a `Lock` with its own
 * fencing token. Get one from `locks.semaphore(name, permits)`.
 *
 * @example
 * ```ts
 * const downloads = locks.semaphore('downloads', 3);
 * await downloads.withPermit(async (signal) => fetch(url, { signal }));
 * ```
 */
export class Semaphore {
  readonly #request: Requester;
  readonly #spec: LockSpec;

  static {
    makeSemaphore = (name, permits, request) => new Semaphore(name, permits, request);
  }

  /** Use `locks.semaphore(name, permits)`. */
  private constructor(
    readonly name: string,
    readonly permits: number,
    request: Requester,
  ) {
    this.#request = request;
    this.#spec = { kind: 'semaphore', mode: 'shared', permits };
  }

  /** Wait (FIFO) for a permit. */
  acquire(options: AcquireOptions = {}): Promise<Lock> {
    return this.#request(this.#spec, options, true) as Promise<Lock>;
  }

  /** A permit if one is free and nobody waits, else `null`. */
  tryAcquire(options: Omit<AcquireOptions, keyof WaitOptions> = {}): Promise<Lock | null> {
    return this.#request(this.#spec, options, false);
  }

  /** Run `fn` holding a permit; give it back when `fn` returns or throws. */
  withPermit<T>(
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options: AcquireOptions = {},
  ): Promise<T> {
    return withHandle(this.acquire(options), fn);
  }
}

/** The semaphore `name` over `request` (not exported from the package: `locks.semaphore`). @internal */
export function semaphoreView(name: string, permits: number, request: Requester): Semaphore {
  return makeSemaphore(name, permits, request);
}
