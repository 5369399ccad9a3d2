/**
 * What the handles (`Lock`, `Leadership`) and `Locks` say to each other. `Locks` hands every
 * handle it makes one private object of the `LockClient` shape, and keeps a `HandleControl`
 * for it; neither is exported from the package, so the published types hold no method that
 * only the package itself may call. A leaf: it imports no implementation file.
 * @module
 */
import type { Clock } from '@cpgkit/core';
import type { LossReason } from './errors.js';
import type { Json } from './state.js';

/** A handle as its client knows it: the request id (its identity in the state) and the name. */
export interface HandleRef {
  readonly id: string;
  readonly name: string;
}

/** What a handle asks of the `Locks` that made it. */
export interface LockClient {
  /** The state machine's clock (virtual on the in-memory cluster). */
  readonly clock: Clock;
  /** Give the lock back through the group (nothing is sent for a lock lost already). */
  release(lock: HandleRef): Promise<void>;
  /** Extend the lease to `ttl` ms from now; resolves with the new end (replicated time). */
  renew(lock: HandleRef, ttl: number): Promise<number>;
  /** Give up leadership through the group (nothing is sent for a leadership lost already). */
  resign(leadership: HandleRef): Promise<void>;
  /** Announce a new value in the same term. */
  proclaim(leadership: HandleRef, value: Json): Promise<void>;
}

/** How `Locks` steers a handle it handed out: `U` is what the replicated state updates. */
export interface HandleControl<H, U> {
  readonly handle: H;
  /** Abort the handle's signal (a `LockLostError` or `LeadershipLostError`). */
  lose(reason: LossReason, message: string): void;
  /** The replicated state changed what the handle shows (a lease end, a leader's value). */
  update(value: U): void;
}
