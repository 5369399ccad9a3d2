/**
 * Whether a real corosync cluster (`scripts/cluster`) can run on this machine, and what to do
 * when it cannot: skip with the reason in a banner, or fail under CI. Used by the global setup
 * of test/cluster and by the examples' corosync suites, so that every real-cluster test skips
 * (and fails under CI) for the same reasons. No vitest import: callable from a global setup.
 * @module
 */
import { spawnSync } from 'node:child_process';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Print `lines` on stderr in a box of `!`, hard to miss in a test run's output. */
export function banner(lines: string[]): void {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '!'.repeat(width);
  process.stderr.write(
    `\n${bar}\n${lines.map((l) => `! ${l.padEnd(width - 4)} !`).join('\n')}\n${bar}\n\n`,
  );
}

/**
 * Why a real cluster cannot run here, or `undefined` when it may: Linux, root, iproute2 and
 * util-linux, corosync installed or apt-get to install it, and not `CPGKIT_CLUSTER=off`.
 * @param commands - further commands the suite needs (e.g. `curl`)
 */
export function clusterPrecondition(commands: readonly string[] = []): string | undefined {
  if (process.platform !== 'linux')
    return `needs Linux network namespaces (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'needs root (network namespaces; corosync clients run as root)';
  if (!has('ip') || !has('unshare')) return 'needs iproute2 (`ip`) and util-linux (`unshare`)';
  if (!has('corosync') && !has('apt-get'))
    return 'corosync is not installed and apt-get is not there to install it';
  for (const c of commands) if (!has(c)) return `needs \`${c}\``;
  if (process.env.CPGKIT_CLUSTER === 'off') return 'disabled by CPGKIT_CLUSTER=off';
  return undefined;
}

/** True under CI (`CI` set to anything but empty, `0` or `false`): a skipped cluster is a failure. */
export function underCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && !['', '0', 'false'].includes(ci.toLowerCase());
}

/**
 * For a test file whose suite needs a real cluster of its own: true when it can run. When it
 * cannot, says why in a banner and returns false (skip the suite), or under CI throws, which
 * fails the file loudly instead of skipping it.
 * @param suite - what is skipped, for the banner (e.g. `examples/locks on real corosync`)
 * @param commands - further commands the suite needs
 * @example
 * ```ts
 * describe.skipIf(!canRunCluster('examples/locks on real corosync'))('...', () => { ... });
 * ```
 */
export function canRunCluster(suite: string, commands: readonly string[] = []): boolean {
  const reason = clusterPrecondition(commands);
  if (reason === undefined) return true;
  const lines = [`REAL COROSYNC CLUSTER NOT AVAILABLE: ${suite} is SKIPPED.`, `reason: ${reason}`];
  if (underCI()) {
    banner([...lines, `CI=${process.env.CI}: this is a failure.`]);
    throw new Error(`CI is set and the real corosync cluster cannot run for ${suite}: ${reason}`);
  }
  banner(lines);
  return false;
}
