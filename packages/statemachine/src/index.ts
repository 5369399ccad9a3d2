/**
 * @cpgkit/statemachine: replicated state machines, state transfer, quorum gating, and the
 * replicated config store.
 * @module
 */
export type * from './types.js';
export * from './errors.js';
export { ReplicatedStateMachine, type OpenOptions } from './machine.js';
export { SnapshotStore } from './persistence.js';
export { canonicalJson, digestOf } from './canonical.js';
export type { Image } from './image.js';
