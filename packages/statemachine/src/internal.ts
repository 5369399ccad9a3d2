/**
 * `@cpgkit/statemachine/internal`: for this package's tests and for sibling packages, not for
 * applications (no compatibility promise). Test hooks reach into one replica the way a bug or
 * a bad disk would, without going through the group.
 * @module
 */
import type { ReplicatedStateMachine } from './machine.js';
import { CORRUPT_STATE, INSPECT, type ReplicaInternals } from './test-hooks.js';

export type { ReplicaInternals } from './test-hooks.js';

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
