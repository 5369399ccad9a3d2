/**
 * A resource that remembers the highest fencing token it accepted and refuses older ones.
 * @module
 */
import { StaleTokenError } from './errors.js';

/**
 * The storage side of fencing: what the protected resource must do so that a holder that lost
 * its lock without knowing it (paused, cut off) cannot overwrite a newer holder's work.
 * Accept a write only if its token is at least the highest token seen; remember the highest.
 *
 * This class keeps the highest token in memory (one process); a real resource must keep it
 * next to the data it protects, in the same atomic write (a column, a file header, a
 * compare-and-set key).
 *
 * @example
 * ```ts
 * const file = new FencedResource<string>();
 * await using lock = await locks.acquire('report');
 * file.write(lock.token, 'new contents');        // throws StaleTokenError if a newer holder wrote
 * ```
 */
export class FencedResource<T = unknown> {
  #highest: bigint;
  #value: T | undefined;
  #writes = 0;

  /** @param highest - the highest token already accepted (from durable storage). @defaultValue `0n` */
  constructor(highest = 0n) {
    this.#highest = highest;
  }

  /** The highest token accepted so far. */
  get highest(): bigint {
    return this.#highest;
  }

  /** The last value written. */
  get value(): T | undefined {
    return this.#value;
  }

  /** How many writes were accepted. */
  get writes(): number {
    return this.#writes;
  }

  /**
   * Check `token` and remember it: throws `StaleTokenError` if a higher token was already
   * accepted. The same token may write many times (one holder, many writes).
   */
  check(token: bigint): void {
    if (token < this.#highest) throw new StaleTokenError(token, this.#highest);
    this.#highest = token;
  }

  /** `check(token)`, then store `value`. */
  write(token: bigint, value: T): void {
    this.check(token);
    this.#value = value;
    this.#writes += 1;
  }
}
