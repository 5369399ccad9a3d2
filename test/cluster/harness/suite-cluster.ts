/**
 * The environment for a suite that brings up a real cluster of its own (the examples' corosync
 * suites): its name and subnet derive from `CPGKIT_CLUSTER_NAME`/`CPGKIT_CLUSTER_SUBNET`, so
 * that two checkouts whose runs name different clusters never share a suite's cluster either.
 * With neither set: `cpgk` + `tag`, and `10.213.(7 + offset)`. `scriptsCluster` runs
 * `scripts/cluster` on that cluster.
 * @module
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (where `scripts/cluster` lives). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * @param tag - what tells this suite's cluster from the shared one (e.g. `exc`)
 * @param offset - added to the third octet of the shared subnet (distinct per suite)
 */
export function suiteClusterEnv(tag: string, offset: number): NodeJS.ProcessEnv {
  const base = process.env.CPGKIT_CLUSTER_NAME ?? 'cpgk';
  const [a = '10', b = '213', c = '7'] = (process.env.CPGKIT_CLUSTER_SUBNET ?? '10.213.7').split(
    '.',
  );
  return {
    ...process.env,
    CPGKIT_CLUSTER_NAME: `${base.slice(0, Math.max(1, 10 - tag.length))}${tag}`,
    CPGKIT_CLUSTER_SUBNET: `${a}.${b}.${(Number(c) + offset) % 256}`,
  };
}

/**
 * A function that runs `bash scripts/cluster ARGS...` from the repository root with `env` (a
 * suite's own cluster: see `suiteClusterEnv`) and returns what it did.
 * @example
 * ```ts
 * const cluster = scriptsCluster(env);
 * if (cluster('up').status !== 0) throw new Error('scripts/cluster up failed');
 * ```
 */
export function scriptsCluster(
  env: NodeJS.ProcessEnv,
): (...args: string[]) => SpawnSyncReturns<string> {
  return (...args) =>
    spawnSync('bash', ['scripts/cluster', ...args], { cwd: REPO_ROOT, env, encoding: 'utf8' });
}
