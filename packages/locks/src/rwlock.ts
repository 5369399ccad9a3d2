/**
 * A read-write lock view over `Locks`.
 * @module
 */
import type { WaitOptions } from '@cpgkit/core';
import type { Lock } from './lock.js';
import type { AcquireOptions, LockSpec, Requester } from './types.js';
import { withHandle } from './with-handle.js';

const READ: LockSpec = { kind: 'rwlock', mode: 'shared' };
const WRITE: LockSpec = { kind: 'rwlock', mode: 'exclusive' };

/** Set by `ReadWriteLock`'s static block: the only way to make one (see `rwlockView`). */
let makeReadWriteLock: (name: string, request: Requester) => ReadWriteLock;

/**
 * Many readers or one writer, granted FIFO: a waiting writer blocks readers that come after
 * it, so writers never starve. Get one from `locks.rwlock(name)`.
 *
 * @example
 * ```ts
 * const config = locks.rwlock('config');
 * await config.withRead(async () => readConfig());
 * await config.withWrite(async (signal, lock) => writeConfig(next, lock.token));
 * ```
 */
export class ReadWriteLock {
  readonly #request: Requester;

  static {
    makeReadWriteLock = (name, request) => new ReadWriteLock(name, request);
  }

  /** Use `locks.rwlock(name)`. */
  private constructor(
    readonly name: string,
    request: Requester,
  ) {
    this.#request = request;
  }

  /** Wait for a read share. */
  read(options: AcquireOptions = {}): Promise<Lock> {
    return this.#request(READ, options, true) as Promise<Lock>;
  }

  /** Wait for the write lock. */
  write(options: AcquireOptions = {}): Promise<Lock> {
    return this.#request(WRITE, options, true) as Promise<Lock>;
  }

  /** A read share now, or `null`. */
  tryRead(options: Omit<AcquireOptions, keyof WaitOptions> = {}): Promise<Lock | null> {
    return this.#request(READ, options, false);
  }

  /** The write lock now, or `null`. */
  tryWrite(options: Omit<AcquireOptions, keyof WaitOptions> = {}): Promise<Lock | null> {
    return this.#request(WRITE, options, false);
  }

  /** Run `fn` holding a read share. */
  withRead<T>(
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options: AcquireOptions = {},
  ): Promise<T> {
    return withHandle(this.read(options), fn);
  }

  /** Run `fn` holding the write lock. */
  withWrite<T>(
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options: AcquireOptions = {},
  ): Promise<T> {
    return withHandle(this.write(options), fn);
  }
}

/** The read-write lock `name` over `request` (not exported from the package: `locks.rwlock`). @internal */
export function rwlockView(name: string, request: Requester): ReadWriteLock {
  return makeReadWriteLock(name, request);
}
