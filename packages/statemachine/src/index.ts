/**
 * @cpgkit/statemachine: replicated state machines, state transfer, quorum gating, and the
 * replicated config store.
 * @module
 */
export type * from './types.js';
export * from './errors.js';
export { ReplicatedStateMachine } from './machine.js';
export type { OpenOptions } from './open-options.js';
export type { Durability } from './durability.js';
export { roleOptions, type Role, type RoleOptions } from './role.js';
export { SnapshotStore, type LogRecord, type ReplicaIdentity } from './persistence.js';
export type { SliceTime } from './slices.js';
export { canonicalJson, digestOf } from './canonical.js';
export { SortedRecord } from './sorted-record.js';
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
export { mapDefinition } from './map/definition.js';
export {
  DEFAULT_LIMITS,
  type Json,
  type MapCommand,
  type MapCompare,
  type MapEntry,
  type MapFanout,
  type MapLeaf,
  type MapPlainLeaf,
  type MapLimits,
  type MapOp,
  type MapResult,
  type MapState,
  type MapTree,
} from './map/state.js';
// The xstate adapter is `@cpgkit/statemachine/xstate` (src/xstate.ts): importing this entry
// never loads xstate.
