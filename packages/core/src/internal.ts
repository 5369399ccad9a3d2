/**
 * `@cpgkit/core/internal`: for tests and sibling packages, not for applications (no
 * compatibility promise). The parts of the in-memory cluster's engine that a test may drive
 * on their own: the pure reconfiguration and the records it works on.
 * @module
 */
export {
  reconfigure,
  targetComponents,
  isCurrent,
  type ClusterView,
  type Reconfiguration,
} from './sim/reconfigure.js';
export {
  newComponent,
  type Component,
  type NodeView,
  type SimNode,
  type Views,
} from './sim/model.js';
export {
  recorder,
  perform,
  type Effect,
  type EffectSink,
  type ReconfigureSink,
} from './sim/ordering.js';
export {
  SimConnection,
  type InboxItem,
  type OrderedItem,
  type SimEngine,
} from './sim/connection.js';
