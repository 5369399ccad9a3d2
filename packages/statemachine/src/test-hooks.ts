/**
 * Hooks for tests of this package: reach into one replica the way a bug or a bad disk would,
 * without going through the group. Not exported from the package index; never use them in an
 * application.
 * @module
 */
import type { ReplicatedStateMachine } from './machine.js';

/** The symbol under which `ReplicatedStateMachine` exposes its corruption hook. */
export const CORRUPT_STATE: unique symbol = Symbol('cpgkit.statemachine.corruptState');
/** The symbol under which `ReplicatedStateMachine` exposes its internals to tests. */
export const INSPECT: unique symbol = Symbol('cpgkit.statemachine.inspect');

/** What `inspectReplica` shows. */
export interface ReplicaInternals {
  /** The latest sync decision of this member's component said quorate. */
  readonly decisionQuorate: boolean;
  /** This member holds a state (synced once, or restored from disk). */
  readonly hasState: boolean;
}

interface Corruptible<S> {
  [CORRUPT_STATE](mutate: (state: S) => S): void;
  [INSPECT](): ReplicaInternals;
}

/** Internals of one replica, for invariants in tests. */
export function inspectReplica<S, C, R>(
  machine: ReplicatedStateMachine<S, C, R>,
): ReplicaInternals {
  return (machine as unknown as Corruptible<S>)[INSPECT]();
}

/**
 * Replace this replica's local state with `mutate(state)`, silently: no command, no index
 * change, nothing sent. The next digest check must find the mismatch and repair it by resync.
 *
 * @example
 * ```ts
 * corruptReplica(machines[1], (s) => ({ ...s, n: s.n + 1 }));
 * ```
 */
export function corruptReplica<S, C, R>(
  machine: ReplicatedStateMachine<S, C, R>,
  mutate: (state: S) => S,
): void {
  (machine as unknown as Corruptible<S>)[CORRUPT_STATE](mutate);
}
