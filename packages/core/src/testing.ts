/**
 * @cpgkit/core/testing: the in-memory cluster on VIRTUAL time (`virtualTimeCluster`, which is
 * `new MemoryCluster()`'s default) and helpers for applications' own tests. Applications that
 * embed a cluster use `embeddedCluster()` from `@cpgkit/core` instead: the same cluster on real
 * time.
 * @module
 */
export {
  MemoryCluster,
  COROSYNC_MAX_MESSAGE_SIZE,
  type MemoryClusterOptions,
  type MemoryTransport,
  type RunUntilIdleOptions,
  type SettleOptions,
  type ClusterStats,
} from './sim/cluster.js';
export { VirtualClock } from './sim/virtual-clock.js';
export { Random } from './sim/random.js';
export { virtualTimeCluster } from './virtual-time-cluster.js';
