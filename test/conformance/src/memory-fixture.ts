/**
 * The conformance suite's fixture on the in-memory cluster.
 * @module
 */
import type { GroupTransport } from '@cpgkit/core';
import { MemoryCluster, type MemoryClusterOptions } from '@cpgkit/core/testing';
import type { ClusterFixture } from './fixture.js';

/** A `ClusterFixture` over a fresh `MemoryCluster`. */
export class MemoryFixture implements ClusterFixture {
  readonly kind = 'memory';
  readonly cluster: MemoryCluster;
  readonly nodes: readonly number[];
  readonly #members: GroupTransport[] = [];

  constructor(options: MemoryClusterOptions = {}) {
    this.cluster = new MemoryCluster({ nodes: 3, seed: 1, ...options });
    this.nodes = this.cluster.nodeIds;
  }

  member(node: number): Promise<GroupTransport> {
    const m = this.cluster.member(node);
    this.#members.push(m);
    return Promise.resolve(m);
  }

  crashProcess(member: GroupTransport): Promise<void> {
    this.cluster.crashProcess(member);
    return this.cluster.runUntilIdle();
  }

  crashNode(node: number): Promise<void> {
    this.cluster.crashNode(node);
    return this.cluster.runUntilIdle();
  }

  restartNode(node: number): Promise<void> {
    this.cluster.restartNode(node);
    return this.cluster.runUntilIdle();
  }

  partition(...components: number[][]): Promise<void> {
    this.cluster.partition(...components);
    return this.cluster.runUntilIdle();
  }

  heal(): Promise<void> {
    this.cluster.heal();
    return this.cluster.runUntilIdle();
  }

  runUntilIdle(): Promise<void> {
    return this.cluster.runUntilIdle();
  }

  async waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return;
    await this.cluster.runUntilIdle();
    if (predicate()) return;
    // Give pending timers their chance, within the time budget.
    await this.cluster.runUntilIdle({ advanceTime: true, maxTime: timeoutMs });
    if (predicate()) return;
    throw new Error(`in-memory cluster: ${what} did not happen (the cluster is idle)`);
  }

  async close(): Promise<void> {
    await Promise.all(this.#members.map((m) => m.close()));
    this.cluster.destroy();
  }
}
