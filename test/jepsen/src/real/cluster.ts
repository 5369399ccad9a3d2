/**
 * The harness's handle on `scripts/cluster` (same environment variables: CPGKIT_CLUSTER_NAME,
 * CPGKIT_CLUSTER_SUBNET, CPGKIT_CLUSTER_NODES): run its commands, find a daemon's pid, and run
 * a program inside a node's network namespace.
 * @module
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

const script = join(repoRoot, 'scripts', 'cluster');

/** A `scripts/cluster` command that failed. */
export class ClusterCommandError extends Error {
  override name = 'ClusterCommandError';
}

/** Run `scripts/cluster ARGS...`; resolves with stdout, rejects with stderr's last lines. */
export function cluster(args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [script, ...args],
      { cwd: repoRoot, timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout);
        else
          reject(
            new ClusterCommandError(
              `scripts/cluster ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
              { cause: error },
            ),
          );
      },
    );
  });
}

/** The cluster's name and node count, as the environment gives them. */
export function clusterConfig(): { name: string; nodes: number } {
  return {
    name: process.env.CPGKIT_CLUSTER_NAME ?? 'cpgk',
    nodes: Number(process.env.CPGKIT_CLUSTER_NODES ?? '3'),
  };
}

/** Node N's network namespace. */
export function namespaceOf(node: number): string {
  return `${clusterConfig().name}-n${node}`;
}

/** Whether the cluster's namespaces exist (`status` exits 3 when it is down). */
export async function clusterIsUp(): Promise<boolean> {
  try {
    await cluster(['status']);
    return true;
  } catch {
    return false;
  }
}

/** The pid of node N's corosync daemon, or undefined when it is not running. */
export async function daemonPid(node: number): Promise<number | undefined> {
  const out = await cluster(['pids']);
  for (const line of out.split('\n')) {
    const [n, pid] = line.trim().split(/\s+/);
    if (Number(n) === node) return Number(pid);
  }
  return undefined;
}
