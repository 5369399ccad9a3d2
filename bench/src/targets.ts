/**
 * The four targets of a run: cpgkit with persistence on and off (on the corosync cluster),
 * etcd with fsync and with `--unsafe-no-fsync` (3 members on loopback).
 * @module
 */
import { join } from 'node:path';
import type { CorosyncCluster } from './corosync-cluster.js';
import type { EtcdCluster } from './etcd-cluster.js';
import { nowMs, rssBytes } from './procs.js';
import type { Target, Variant } from './target.js';

/**
 * cpgkit on the corosync cluster; `dataRoot` set means persistence on, with `durability`
 * (`'fsync'`: a write is acknowledged once a majority has it on disk).
 */
export function cpgkitTarget(
  cluster: CorosyncCluster,
  variant: Variant,
  runId: string,
  dataRoot: string | undefined,
  durability: 'memory' | 'fsync' = 'memory',
): Target {
  return {
    system: 'cpgkit',
    variant,
    get nodes() {
      return cluster.nodes;
    },
    replicasInWorkers: true,
    label: !dataRoot
      ? 'persistence off (in memory)'
      : durability === 'fsync'
        ? "durability 'fsync' (acknowledged on a majority's disks)"
        : "persistence on, durability 'memory' (disk within 50 ms)",
    config: (scenario, node) => ({
      system: 'cpgkit',
      group: `bench-${runId}-${variant}-${scenario}`,
      ...(dataRoot ? { dataDir: join(dataRoot, variant, scenario, `n${node}`), durability } : {}),
    }),
    async killNode(node, killWorker) {
      const pids = await cluster.daemonPids();
      const killedAt = nowMs();
      await cluster.killDaemonNow(node, pids);
      await killWorker();
      return { killedAt };
    },
    restoreNode: (node) => cluster.restartNode(node),
  };
}

/** etcd: worker N talks to member N only. */
export function etcdTarget(etcd: () => EtcdCluster, variant: Variant, electionTtl: number): Target {
  return {
    system: 'etcd',
    variant,
    label: variant === 'fast' ? '--unsafe-no-fsync' : 'fsync (default)',
    get nodes() {
      return etcd().members.length;
    },
    replicasInWorkers: false,
    config: (_scenario, node) => ({
      system: 'etcd',
      endpoint: etcd().member(node).clientUrl,
      electionTtl,
    }),
    async killNode(node, killWorker) {
      const killedAt = nowMs();
      await Promise.all([etcd().kill(node), killWorker()]);
      return { killedAt };
    },
    restoreNode: (node) => etcd().restart(node),
    replicaRss: (node) => rssBytes(etcd().pid(node)),
  };
}
