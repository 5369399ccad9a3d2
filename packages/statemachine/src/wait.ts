/**
 * Moved to `@cpgkit/core` (core/src/wait.ts), where every package's waits live. This file
 * only hands the names on for the modules that still import them from here.
 * @module
 */
export { deferred, withWait, type Deferred } from '@cpgkit/core';
