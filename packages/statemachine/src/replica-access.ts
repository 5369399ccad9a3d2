/**
 * A replica's internals, reachable from `internal.ts` (the `@cpgkit/statemachine/internal`
 * entry that tests import) and from nowhere else: a registry keyed by the machine, so that no
 * test hook shows on `ReplicatedStateMachine` or in its published types.
 * @module
 */

/** What `inspectReplica` shows. */
export interface ReplicaInternals {
  /** The latest sync decision of this member's component said quorate. */
  readonly decisionQuorate: boolean;
  /** This member holds a state (synced once, or restored from disk). */
  readonly hasState: boolean;
  /**
   * Its image's `Q` and `gone`, and `P` (the last proven `Q`, `provenGone`): a round is quorate
   * only with a majority of both (sync.ts `jointMajority`).
   */
  readonly lineage: {
    readonly replicas: readonly string[];
    readonly gone: readonly string[];
    readonly provenReplicas: readonly string[];
    readonly provenGone: readonly string[];
  };
}

/** What a machine hands to the registry. */
export interface ReplicaAccess {
  inspect(): ReplicaInternals;
  /** Replace the local state with `mutate(state)`, behind the group's back. */
  corrupt(mutate: (state: never) => unknown): void;
}

const registry = new WeakMap<object, ReplicaAccess>();

/** Called once by every machine at construction. */
export function registerReplica(machine: object, access: ReplicaAccess): void {
  registry.set(machine, access);
}

/** The access of a machine (throws for anything else). */
export function replicaAccess(machine: object): ReplicaAccess {
  const a = registry.get(machine);
  if (a === undefined) throw new TypeError('not a ReplicatedStateMachine');
  return a;
}
