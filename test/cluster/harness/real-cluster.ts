/**
 * `RealCluster`: the `ClusterFixture` over the 3-node corosync cluster of `scripts/cluster`.
 * Members are agent processes inside the nodes' network namespaces (`RemoteGroup`s); faults
 * are real: kill -9 of a member's process, kill -9 of a node's daemon, a node's link down.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { GroupTransport } from '@cpgkit/core';
import {
  clusterEnv,
  healNodes,
  isolateNode,
  killNode,
  startNode,
  waitNodes,
  waitQuorum,
  type ClusterEnv,
} from './cluster.js';
import type { ClusterFixture } from './fixture.js';
import type { RemoteGroup } from './remote-group.js';
import { spawnRemoteGroup } from './remote-member.js';

/** A partition shape the real cluster cannot make (only link-down of single nodes). */
export class UnsupportedPartitionError extends Error {
  override name = 'UnsupportedPartitionError';
}

/** How long a fault may take to show in every daemon's ring before the fixture gives up. */
const ringTimeoutS = 30;

/**
 * The real cluster as a `ClusterFixture`. Open one per test (it is cheap: the cluster itself
 * stays up); `close()` ends every member and heals and restarts what the test broke.
 *
 * @example
 * ```ts
 * import { RealCluster } from '../harness/index.js';
 * const fx = await RealCluster.open();
 * const [a, b] = await Promise.all([fx.member(1), fx.member(2)]);
 * await a.join('g'); await b.join('g');
 * await fx.waitFor(() => a.members().length === 2, 10_000, 'a to see b');
 * await fx.partition([1], [2, 3]);      // node 1's link goes down
 * await fx.heal();
 * await fx.close();
 * ```
 */
export class RealCluster implements ClusterFixture {
  readonly kind = 'corosync' as const;
  readonly nodes: readonly number[];
  /** What `scripts/cluster env --json` says about the cluster. */
  readonly env: ClusterEnv;
  readonly #members = new Set<RemoteGroup>();
  readonly #crashed = new Set<number>();
  /** Node → the component it is in (all nodes together when not partitioned). */
  #component = new Map<number, readonly number[]>();
  #partitioned = false;

  private constructor(env: ClusterEnv) {
    this.env = env;
    this.nodes = env.nodes.map((n) => n.node);
    this.#resetComponents();
  }

  /** A fixture over the cluster the environment names (`CPGKIT_CLUSTER_*`); it must be up. */
  static async open(): Promise<RealCluster> {
    return new RealCluster(await clusterEnv());
  }

  /** The network namespace of `node`. */
  namespace(node: number): string {
    const info = this.env.nodes.find((n) => n.node === node);
    if (!info)
      throw new RangeError(
        `no node ${node} in cluster ${this.env.name} (nodes ${this.nodes.join(', ')})`,
      );
    return info.namespace;
  }

  /** A new member process (an agent) on `node`, not yet joined. */
  async member(node: number): Promise<RemoteGroup> {
    const m = await spawnRemoteGroup(node, { namespace: this.namespace(node) });
    this.#members.add(m);
    return m;
  }

  /** kill -9 the member's process: the others see it leave with `procdown`. */
  async crashProcess(member: GroupTransport): Promise<void> {
    const m = member as RemoteGroup;
    if (!this.#members.has(m))
      throw new TypeError('crashProcess: not a member made by this RealCluster');
    await m.kill();
  }

  /** kill -9 the node's corosync daemon: the others see its members leave with `nodedown`. */
  async crashNode(node: number): Promise<void> {
    this.namespace(node);
    await killNode(node);
    this.#crashed.add(node);
  }

  /** Start the node's daemon again; resolves when it is back in its component's ring. */
  async restartNode(node: number): Promise<void> {
    this.namespace(node);
    await startNode(node);
    this.#crashed.delete(node);
    await this.#waitRings([node]);
  }

  /**
   * Split the cluster. Every node must be in exactly one component, and at most one component
   * may have more than one node (the others are single nodes cut off by link-down), e.g.
   * `partition([1], [2, 3])` or `partition([1], [2], [3])`. Resolves when every running daemon
   * sees its own component.
   */
  async partition(...components: number[][]): Promise<void> {
    const seen = new Map<number, number>();
    components.forEach((c, i) => {
      if (c.length === 0) throw new UnsupportedPartitionError('partition: empty component');
      for (const n of c) {
        this.namespace(n);
        if (seen.has(n))
          throw new UnsupportedPartitionError(`partition: node ${n} is in two components`);
        seen.set(n, i);
      }
    });
    const missing = this.nodes.filter((n) => !seen.has(n));
    if (missing.length > 0) {
      throw new UnsupportedPartitionError(
        `partition: nodes ${missing.join(', ')} are in no component`,
      );
    }
    const big = components.filter((c) => c.length > 1);
    if (big.length > 1) {
      throw new UnsupportedPartitionError(
        `partition(${components.map((c) => `[${c.join(',')}]`).join(', ')}): the real cluster ` +
          'cuts single nodes off (link down), so at most one component may have more than one node',
      );
    }
    await healNodes();
    for (const c of components)
      if (c.length === 1 && components.length > 1) await isolateNode(c[0]!);
    this.#component = new Map(components.flatMap((c) => c.map((n) => [n, c] as const)));
    this.#partitioned = components.length > 1;
    await this.#waitRings(this.nodes);
  }

  /** Undo every partition; resolves when every running daemon sees every running node. */
  async heal(): Promise<void> {
    await healNodes();
    this.#resetComponents();
    this.#partitioned = false;
    await this.#waitRings(this.nodes);
  }

  /** Wait `ms` (default 1000) of real time: the nearest a real cluster has to running until idle. */
  async runUntilIdle(ms = 1000): Promise<void> {
    await sleep(ms);
  }

  /** Poll `predicate` every 20 ms; reject after `timeoutMs` saying `what` did not happen. */
  async waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!predicate()) {
      if (performance.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(20);
    }
  }

  /** End every member, heal, restart crashed daemons, and wait for the full quorate ring. */
  async close(): Promise<void> {
    const members = [...this.#members];
    this.#members.clear();
    await Promise.allSettled(members.map((m) => m.close()));
    if (this.#partitioned) await healNodes();
    for (const n of this.#crashed) await startNode(n);
    this.#crashed.clear();
    this.#resetComponents();
    this.#partitioned = false;
    await waitNodes(this.nodes.length, [], ringTimeoutS);
    await waitQuorum([], ringTimeoutS);
  }

  #resetComponents(): void {
    this.#component = new Map(this.nodes.map((n) => [n, this.nodes] as const));
  }

  /** Wait until each of `nodes` (if running) sees the running nodes of its component. */
  async #waitRings(nodes: readonly number[]): Promise<void> {
    for (const n of nodes) {
      if (this.#crashed.has(n)) continue;
      const alive = (this.#component.get(n) ?? [n]).filter((m) => !this.#crashed.has(m));
      await waitNodes(alive.length, [n], ringTimeoutS);
    }
  }
}
