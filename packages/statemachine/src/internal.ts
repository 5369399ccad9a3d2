/**
 * `@cpgkit/statemachine/internal`: for this repository's tests and sibling packages, not for
 * applications (no compatibility promise). Reach into one replica the way a bug or a bad disk
 * would, without going through the group.
 * @module
 */
import type { ReplicatedStateMachine } from './machine.js';
import { replicaAccess, type ReplicaInternals } from './replica-access.js';

export type { ReplicaInternals } from './replica-access.js';
/** The kinds of the wire format (byte 3 of a frame), for tests that act on frames in flight. */
export { Kind } from './wire.js';

/** Internals of one replica, for invariants in tests. */
export function inspectReplica<S, C, R>(
  machine: ReplicatedStateMachine<S, C, R>,
): ReplicaInternals {
  return replicaAccess(machine).inspect();
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
  replicaAccess(machine).corrupt(mutate);
}
