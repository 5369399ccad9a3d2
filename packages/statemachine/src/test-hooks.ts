/**
 * The symbols under which `ReplicatedStateMachine` exposes its test hooks, and what they
 * return. A leaf (machine.ts imports it); the functions that use the hooks are in
 * `internal.ts` (`@cpgkit/statemachine/internal`).
 * @module
 */

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
