/**
 * `virtualTimeCluster`: the in-memory cluster named for its clock, for tests.
 * @module
 */
import { MemoryCluster, type MemoryClusterOptions } from './sim/cluster.js';

/**
 * An in-memory cluster on virtual time, for tests: time stands still until the test moves it
 * (`cluster.advance(ms)`, `cluster.runUntilIdle({ advanceTime: true })`), so a 200 ms timeout or a
 * 100 ms lease never fires by itself, and a seeded run is reproducible. The same as
 * `new MemoryCluster(options)`, named for its clock. For real time, `embeddedCluster()` from
 * `@cpgkit/core`.
 *
 * @example
 * ```ts
 * const cluster = virtualTimeCluster({ nodes: 3, seed: 42 });
 * const pending = locks.acquire('job', { timeout: 200 });
 * await cluster.advance(200); // now it times out
 * ```
 */
export function virtualTimeCluster(
  options: Omit<MemoryClusterOptions, 'realTime'> = {},
): MemoryCluster {
  return new MemoryCluster({ ...options, realTime: false });
}
