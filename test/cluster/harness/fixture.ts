/**
 * The cluster fixture: what a suite written against `GroupTransport` needs from a cluster
 * (members on nodes, and faults). Implemented by `RealCluster` (real-cluster.ts) here and by
 * the in-memory cluster's fixture in test/conformance (which declares the same shape).
 * @module
 */
import type { GroupTransport } from '@cpgkit/core';

/** A cluster a suite can run against: members on nodes, and the faults it can make. */
export interface ClusterFixture {
  readonly kind: 'memory' | 'corosync';
  readonly nodes: readonly number[]; // e.g. [1, 2, 3]
  member(node: number): Promise<GroupTransport>; // a new member process on that node, not yet joined
  crashProcess(member: GroupTransport): Promise<void>; // like kill -9: others see procdown
  crashNode(node: number): Promise<void>; // the node's daemon dies: others see nodedown
  restartNode(node: number): Promise<void>;
  partition(...components: number[][]): Promise<void>; // others see nodedown; both sides go on
  heal(): Promise<void>; // merge: nodeup
  runUntilIdle(ms?: number): Promise<void>; // let pending work happen (real: wait ms)
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void>;
  close(): Promise<void>; // end every member and restore the cluster
}
