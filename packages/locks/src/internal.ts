/**
 * `@cpgkit/locks/internal`: for tests and sibling packages, not for applications (no
 * compatibility promise). What the handles and `Locks` say to each other (`LockClient`) is
 * not exported at all: only `Locks` makes handles.
 * @module
 */
export { withHandle, type Held } from './with-handle.js';
