/**
 * @cpgkit/statemachine: replicated state machines, state transfer, quorum gating, and the
 * replicated config store.
 * @module
 */
export type * from './types.js';
export * from './errors.js';
export { ReplicatedStateMachine, type OpenOptions } from './machine.js';
export { SnapshotStore, type ReplicaIdentity } from './persistence.js';
export { canonicalJson, digestOf } from './canonical.js';
export type { Image } from './image.js';
export {
  ReplicatedMap,
  type MapChange,
  type ReadConsistency,
  type ReadOptions,
  type MapItem,
  type MapOptions,
  type WatchOptions,
} from './map/replicated-map.js';
export {
  DEFAULT_LIMITS,
  mapDefinition,
  type Json,
  type MapCommand,
  type MapCompare,
  type MapEntry,
  type MapLimits,
  type MapOp,
  type MapResult,
  type MapState,
} from './map/state.js';
export {
  xstateDefinition,
  replicateMachine,
  ReplicatedActor,
  type XState,
  type XTimer,
  type XAction,
  type XStateDefinition,
  type ReplicateOptions,
} from './xstate/adapter.js';
export { immerAssign } from './xstate/immer-assign.js';
