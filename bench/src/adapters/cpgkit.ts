/**
 * The cpgkit adapter: the benchmark workloads over `ReplicatedMap` (@cpgkit/statemachine) and
 * the lock and election API of @cpgkit/locks, on the real corosync transport.
 * @module
 */
import type { CoordinationAdapter } from '../adapter.js';
import type { AdapterConfig } from '../protocol.js';

/** Drives cpgkit. */
export class CpgkitAdapter {
  /** Join the config's group and wait until the replica is ready. */
  static open(_config: Extract<AdapterConfig, { system: 'cpgkit' }>): Promise<CoordinationAdapter> {
    return Promise.reject(
      new Error('cpgkit adapter: ReplicatedMap and locks are not available yet'),
    );
  }
}
