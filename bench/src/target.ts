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
  /** The adapter config of a worker on `node` for `scenario` (fresh state per scenario). */
  config(scenario: string, node: number): AdapterConfig;
  /** Kill node `node` now (daemon or member, by pid) and also `workerPid`; returns nothing. */
  killNode(node: number, killWorker: () => Promise<void>): Promise<{ killedAt: number }>;
  /** Bring node `node` back after {@link killNode}. */
  restoreNode(node: number): Promise<void>;
  /** Resident size of the system's own replica on `node` where it is not the worker (etcd). */
  replicaRss?(node: number): Promise<number>;
}
