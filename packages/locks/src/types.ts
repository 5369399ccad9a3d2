/**
 * The types that the lock client (`Locks`) and its views (`Semaphore`, `ReadWriteLock`)
 * share. A leaf: it imports no implementation file of this package.
 * @module
 */
import type { WaitOptions } from '@cpgkit/core';
import type { Lock } from './lock.js';
import type { LockKind, LockMode } from './state.js';

/** Options of `acquire` and the like. */
export interface AcquireOptions extends WaitOptions {
  /**
   * A lease: the group releases the lock `ttl` ms (replicated time) after the grant unless
   * renewed. Leases help liveness (a stuck holder), never safety: fence with the token.
   */
  readonly ttl?: number;
}

/** What a lock request asks for (a mutex, a semaphore permit, a read or write share). */
export interface LockSpec {
  readonly kind: LockKind;
  readonly mode: LockMode;
  readonly permits?: number;
}

/**
 * How a view asks its `Locks` for a lock: `wait` false is a try (a `null` when not granted at
 * once). In `@cpgkit/locks/internal`, not in the public index.
 */
export type Requester = (
  spec: LockSpec,
  options: AcquireOptions,
  wait: boolean,
) => Promise<Lock | null>;
