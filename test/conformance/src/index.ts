/**
 * The shared conformance suite for `GroupTransport`s and its fixtures.
 * @module
 */
export { conformanceSuite } from './suite.js';
export type { ClusterFixture } from './fixture.js';
export { MemoryFixture } from './memory-fixture.js';
export { Names, Recorder } from './recorder.js';
