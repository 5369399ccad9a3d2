/**
 * A target: one system in one configuration (cpgkit with persistence on or off; etcd with
 * fsync or `--unsafe-no-fsync`), with what the scenarios need to start its workers and to
 * make its faults.
 * @module
 */
import type { SystemName } from './adapter.js';
import type { AdapterConfig } from './protocol.js';

/**
 * Which pairing of configurations a row belongs to: `durable` (cpgkit persisting with
 * `durability: 'memory'`, etcd fsync), `fsync` (cpgkit `durability: 'fsync'`, etcd fsync),
 * `fast` (cpgkit in memory, etcd `--unsafe-no-fsync`).
 */
export type Variant = 'durable' | 'fsync' | 'fast';

/** One system in one configuration. */
export interface Target {
  readonly system: SystemName;
  readonly variant: Variant;
  /** How this system is configured in this variant, for labels. */
  readonly label: string;
  /** Nodes of the system (corosync nodes, or etcd members): workers run on 1..nodes. */
  readonly nodes: number;
  /**
   * Whether the system's replicas live in the workers (cpgkit: a replica is a process that
   * opened the store) rather than in servers of their own (etcd's members). Then every
   * scenario runs a worker on every node, idle where the workload has none, so that a write
   * is replicated to as many replicas as etcd's, whatever the workload.
   */
  readonly replicasInWorkers: boolean;
  /** The adapter config of a worker on `node` for `scenario` (fresh state per scenario). */
  config(scenario: string, node: number): AdapterConfig;
  /** Kill node `node` now (daemon or member, by pid) and also `workerPid`; returns nothing. */
  killNode(node: number, killWorker: () => Promise<void>): Promise<{ killedAt: number }>;
  /** Bring node `node` back after {@link killNode}. */
  restoreNode(node: number): Promise<void>;
  /** Resident size of the system's own replica on `node` where it is not the worker (etcd). */
  replicaRss?(node: number): Promise<number>;
}
