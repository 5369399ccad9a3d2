/**
 * @cpgkit/core/testing: the in-memory cluster (the embedded default transport) and helpers
 * for applications' own tests.
 * @module
 */
export {
  MemoryCluster,
  COROSYNC_MAX_MESSAGE_SIZE,
  type MemoryClusterOptions,
  type MemoryTransport,
  type SettleOptions,
  type ClusterStats,
} from './sim/cluster.js';
export { VirtualClock } from './sim/virtual-clock.js';
export { Random } from './sim/random.js';
