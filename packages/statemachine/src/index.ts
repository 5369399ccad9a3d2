/**
 * @cpgkit/statemachine: replicated state machines, state transfer, quorum gating, and the
 * replicated config store.
 * @module
 */
export type * from './types.js';
export * from './errors.js';
