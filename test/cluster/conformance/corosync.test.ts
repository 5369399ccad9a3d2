/**
 * The conformance suite (test/conformance) on the real 3-node corosync cluster: the same
 * assertions the in-memory cluster passes.
 */
import { describe } from 'vitest';
import { conformanceSuite } from '../../conformance/src/suite.js';
import { requireCluster } from '../harness/availability.js';
import { RealCluster } from '../harness/real-cluster.js';

requireCluster();

describe('real corosync cluster', () => {
  conformanceSuite(() => RealCluster.open(), { timeoutMs: 30_000 });
});
