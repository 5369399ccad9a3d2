/**
 * Moved to `@cpgkit/core` (core/src/wait.ts), where every package's waits live. This file
 * only hands the names on for the modules that still import them from here.
 * @module
 */
export { raceSignal, waitSignal, type WaitSignal } from '@cpgkit/core';
