/**
 * The types that the lock client (`Locks`), its views (`Semaphore`, `ReadWriteLock`) and its
 * helpers (elections.ts, reaper.ts) share. A leaf: it imports no implementation file of this
 * package (only types of the handles and the state).
 * @module
 */
import type { WaitOptions } from '@cpgkit/core';
import type { OpenOptions, Role, StateMachine } from '@cpgkit/statemachine';
import type { LocksCommand, LocksResult } from './commands.js';
import type { Lock } from './lock.js';
import type { LocksMachineOptions } from './machine.js';
import type { Json, LockKind, LockMode, LocksState } from './state.js';

/** A `StateMachine` running `locksMachine()`. */
export type LocksStateMachine = StateMachine<LocksState, LocksCommand, LocksResult>;

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
 * once). Not exported from the package.
 */
export type Requester = (
  spec: LockSpec,
  options: AcquireOptions,
  wait: boolean,
) => Promise<Lock | null>;

/** Options of `campaign`. */
export interface CampaignOptions extends WaitOptions {
  /** What the leader announces to observers (JSON). @defaultValue `null` */
  readonly value?: Json;
}

/** Options of `new Locks`. */
export interface LocksOptions {
  /** Close the state machine when the client closes. @defaultValue `false` */
  readonly closeMachine?: boolean;
  /**
   * The `failoverDelay` the lock machine was opened with (`locksMachine`; `Locks.open` passes
   * its own). A grant this member applies more than half of it late (its state's replicated
   * time that far behind its clock, as after a pause) is confirmed by an entry committed after
   * it before it is handed out (late-grants.ts). @defaultValue `0` (nothing waits)
   */
  readonly failoverDelay?: number;
}

/** Options of `Locks.open`: the state machine's and the lock machine's, and the role. */
export interface LocksOpenOptions extends OpenOptions, LocksMachineOptions {
  /**
   * `'replica'` (holds the lock state: a long-lived service) or `'client'` (a passive member
   * of the replicas, e.g. of `cpgkit serve`: what it holds is its own, the state is theirs).
   * See `Role` in `@cpgkit/statemachine`. @defaultValue `'replica'` (unless `passive: true`)
   */
  readonly role?: Role;
}
