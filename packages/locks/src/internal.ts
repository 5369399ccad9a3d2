/**
 * `@cpgkit/locks/internal`: for tests and sibling packages, not for applications (no
 * compatibility promise): what the lock handles and views need from their client.
 * @module
 */
export type { LockSpec, Requester } from './types.js';
export type { LockGrant, LockOwner } from './lock.js';
export type { LeadershipOwner } from './leadership.js';
export { withHandle, type Held } from './with-handle.js';
