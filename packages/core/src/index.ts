/**
 * @cpgkit/core: Corosync CPG for Node.js (`corosync()`), the embedded cluster for applications
 * (`embeddedCluster()`, real time), and the `GroupTransport` contract.
 * @module
 */
export * from './types.js';
export * from './errors.js';
export type * from './transport.js';
export type * from './driver.js';
export { realClock } from './clock.js';
export { corosync, type CorosyncOptions } from './corosync/transport.js';
export type { NativeLibraryPaths } from './native/load.js';
export { Group, openGroup, type GroupOptions, type OpenGroupOptions } from './group.js';
export {
  embeddedCluster,
  corosyncOrEmbedded,
  type EmbeddedClusterOptions,
  type CorosyncOrEmbeddedOptions,
  type TransportChoice,
  type CorosyncChoice,
  type EmbeddedChoice,
} from './embedded.js';
export type { MemoryCluster, MemoryTransport, MemoryClusterOptions } from './sim/cluster.js';
export { encodeGroupName, MAX_GROUP_NAME_BYTES } from './group-name.js';
export { DEFAULT_MAX_MESSAGE_SIZE } from './frame.js';
export { PushIterator, subscriptionIterator, type PushIteratorOptions } from './push-iterator.js';
export { callHandlers, rethrowLater } from './handlers.js';
export {
  abortReason,
  deferred,
  raceSignal,
  sleep,
  waiter,
  waitSignal,
  withWait,
  type Deferred,
  type WaiterOptions,
  type WaitSignal,
} from './wait.js';
export {
  groupEventJson,
  memberChangeJson,
  memberIdJson,
  type GroupEventJson,
  type MemberChangeJson,
  type MemberIdJson,
} from './event-json.js';
