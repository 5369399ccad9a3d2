/**
 * What the conformance suite needs from a cluster: members on nodes, and faults. Implemented
 * by `MemoryFixture` (the in-memory cluster) and by the real-corosync harness in
 * `test/cluster/harness/`.
 * @module
 */
import type { GroupTransport } from '@cpgkit/core';

/** A cluster the conformance suite can run against. */
export interface ClusterFixture {
  readonly kind: 'memory' | 'corosync';
  /** Node ids, e.g. `[1, 2, 3]`. */
  readonly nodes: readonly number[];
  /** A new member process on that node, not joined. */
  member(node: number): Promise<GroupTransport>;
  /** Kill a member's process (kill -9): the others see it leave with `procdown`. */
  crashProcess(member: GroupTransport): Promise<void>;
  /** Kill a node's corosync daemon: the others see its members leave with `nodedown`. */
  crashNode(node: number): Promise<void>;
  /** Start a crashed node's daemon again. */
  restartNode(node: number): Promise<void>;
  /** Split the cluster into these components. */
  partition(...components: number[][]): Promise<void>;
  /** Undo every partition. */
  heal(): Promise<void>;
  /** Let pending work happen: the in-memory cluster runs until idle; a real one waits `ms`. */
  runUntilIdle(ms?: number): Promise<void>;
  /** Wait until `predicate()` holds, or fail after `timeoutMs` saying `what` did not happen. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void>;
  /** Close every member and undo every fault. */
  close(): Promise<void>;
}
