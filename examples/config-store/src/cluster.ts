/**
 * Starting config-store nodes: three on the in-memory cluster in one process (each on its
 * own loopback port), or one on real corosync (one process per node).
 * @module
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { corosync, embeddedCluster, Group, type MemoryCluster } from '@cpgkit/core';
import { ReplicatedMap } from '@cpgkit/statemachine';
import { createConfigServer } from './service.js';

/** The group the example's replicas join. */
export const DEFAULT_GROUP = 'cpgkit-example-config';

/** One running node of the service. */
export interface StoreNode {
  readonly node: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly map: ReplicatedMap;
  readonly server: Server;
}

/** A running set of nodes and how to stop them. */
export interface RunningStore {
  readonly nodes: readonly StoreNode[];
  /** The in-memory cluster (memory mode only), for faults in tests. */
  readonly cluster?: MemoryCluster;
  close(): Promise<void>;
}

async function listen(server: Server, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // loopback only: this example never listens on another interface
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startNode(
  node: number,
  group: Group,
  groupName: string,
  port: number,
): Promise<StoreNode> {
  const map = await ReplicatedMap.open(group, { groupName });
  await map.ready({ timeout: 30_000 });
  const server = createConfigServer(map, { node });
  const url = await listen(server, port);
  return { node, url, map, server };
}

async function stopNode(n: StoreNode): Promise<void> {
  n.server.closeAllConnections();
  await new Promise<void>((r) => n.server.close(() => r()));
  await n.map.close();
}

/**
 * Three (or `nodes`) replicas on an in-memory cluster in real time, in this process; node i
 * listens on `ports[i]` (0: any free port).
 */
export async function startMemoryStore(options: {
  readonly nodes?: number;
  readonly ports?: readonly number[];
  readonly seed?: number;
  readonly group?: string;
}): Promise<RunningStore> {
  const count = options.nodes ?? 3;
  const cluster = embeddedCluster({ nodes: count, seed: options.seed ?? 1 });
  const group = options.group ?? DEFAULT_GROUP;
  const nodes = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startNode(i + 1, cluster.member(i + 1), group, options.ports?.[i] ?? 0),
    ),
  );
  return {
    nodes,
    cluster,
    async close() {
      await Promise.all(nodes.map(stopNode));
      cluster.destroy();
    },
  };
}

/** One replica on the local corosync daemon (run it in each node's namespace). */
export async function startCorosyncStore(options: {
  readonly node: number;
  readonly port: number;
  readonly group?: string;
}): Promise<RunningStore> {
  const n = await startNode(
    options.node,
    new Group(corosync()),
    options.group ?? DEFAULT_GROUP,
    options.port,
  );
  return { nodes: [n], close: () => stopNode(n) };
}
