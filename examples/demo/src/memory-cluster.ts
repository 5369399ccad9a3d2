/**
 * The demo on the in-memory cluster, in real time: three nodes in this process, one member
 * process on each, faults made with `partition` / `heal`.
 * @module
 */
import type { LiveViewNode } from '@cpgkit/cli';
import { embeddedCluster } from '@cpgkit/core';
import { NodeAgent } from './agent.js';
import type { ClusterControl } from './node.js';

/** The prefix of the demo's two groups (`PREFIX.config`, `PREFIX.locks`). */
export const DEMO_GROUP = 'cpgkit-demo';

/** Options for `startMemoryCluster`. */
export interface MemoryClusterOptions {
  readonly nodes: number;
  /** The cluster's seed (the same seed gives the same interleavings). */
  readonly seed: number;
}

/** The in-memory cluster: its nodes live in this process, so the live view can watch them. */
export interface MemoryClusterControl extends ClusterControl {
  /** Each node's replicas (for `serveLiveView`). */
  liveNodes(): LiveViewNode[];
}

/** Start an in-memory cluster and one demo node process on each of its nodes. */
export async function startMemoryCluster(
  options: MemoryClusterOptions,
): Promise<MemoryClusterControl> {
  const cluster = embeddedCluster({ nodes: options.nodes, seed: options.seed });
  const nodes: NodeAgent[] = [];
  for (const n of cluster.nodeIds) {
    nodes.push(
      await NodeAgent.start({
        node: n,
        transport: cluster.processTransport(n),
        group: DEMO_GROUP,
      }),
    );
  }
  return {
    transport: 'memory',
    nodes,
    liveNodes: () => nodes.map((n) => n.liveNode()),
    isolate(n: number) {
      cluster.partition(
        [n],
        cluster.nodeIds.filter((m) => m !== n),
      );
      return Promise.resolve();
    },
    heal() {
      cluster.heal();
      return Promise.resolve();
    },
    async close() {
      await Promise.all(nodes.map((n) => n.close()));
      cluster.destroy();
    },
  };
}
