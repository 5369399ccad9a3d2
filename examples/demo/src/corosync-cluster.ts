/**
 * The demo on real corosync: three node processes, one in each network namespace of the
 * cluster that `scripts/cluster` made (`bash scripts/cluster exec N node ...`), and the
 * faults made for real (`scripts/cluster isolate N` takes node N's link down; `heal` brings
 * it back).
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { ClusterControl } from './node.js';
import { RemoteNode } from './remote-node.js';
import { clusterExecArgs } from '../../../scripts/cluster-exec.js';

/** Options for `startCorosyncCluster`. */
export interface CorosyncClusterOptions {
  /** The repository root (where `scripts/cluster` lives). */
  readonly root: string;
  readonly nodes: number;
}

/** Start one node process per cluster node, in its namespace. */
export async function startCorosyncCluster(
  options: CorosyncClusterOptions,
): Promise<ClusterControl> {
  const { root } = options;
  // a group name of our own per run: two demos (or a demo and a test) never share a group
  const group = `cpgkit-demo-${randomUUID().slice(0, 8)}`;
  const entry = new URL('./node-process.ts', import.meta.url).pathname;
  const nodes: RemoteNode[] = [];
  for (let n = 1; n <= options.nodes; n++) {
    const child = spawn(
      'bash',
      clusterExecArgs(n, entry, ['--node', String(n), '--group', group]),
      { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    nodes.push(new RemoteNode(n, child));
  }
  const script = (...args: string[]) => {
    const r = spawnSync('bash', ['scripts/cluster', ...args], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`scripts/cluster ${args.join(' ')} failed: ${r.stderr}`);
  };
  let isolated = false;
  return Promise.resolve({
    transport: 'corosync',
    nodes,
    isolate(n: number) {
      isolated = true;
      script('isolate', String(n));
      return Promise.resolve();
    },
    heal() {
      script('heal');
      isolated = false;
      return Promise.resolve();
    },
    async close() {
      if (isolated) script('heal');
      await Promise.all(nodes.map((n) => n.close()));
    },
  });
}
