/**
 * @cpgkit/locks: fenced locks, semaphores, read-write locks and leader election, as state in
 * a replicated state machine.
 * @module
 */
export * from './errors.js';
export type * from './state.js';
export { initialLocksState, DEPARTED_MAX } from './state.js';
export { lockOf, lockNames, lockList, lockCount } from './lock-table.js';
export type * from './commands.js';
export { isLocksCommand } from './commands.js';
export { nextToken, TOKENS_PER_MS, type TokenScheme } from './tokens.js';
export {
  locksMachine,
  canGrant,
  LOCKS_MACHINE_NAME,
  MAX_NAME_LENGTH,
  MAX_TTL,
  type LocksMachineOptions,
} from './machine.js';
export { Lock, type LockJson } from './lock.js';
export { Leadership, type LeadershipJson } from './leadership.js';
export { Semaphore } from './semaphore.js';
export { ReadWriteLock } from './rwlock.js';
export { FencedResource } from './fenced-resource.js';
export { Locks } from './locks.js';
export type { LeaderInfo, LeaderInfoJson } from './elections.js';
export type {
  AcquireOptions,
  CampaignOptions,
  LockSpec,
  LocksOpenOptions,
  LocksOptions,
  LocksStateMachine,
} from './types.js';
