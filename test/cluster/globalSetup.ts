/**
 * Global setup of the real-cluster suites: brings the 3-node cluster up with `scripts/cluster up`
 * when it can (root, `ip`, corosync installed or installable with apt-get), and down again
 * afterwards if it was this run that brought it up. When it cannot, every real-cluster test is
 * skipped with the reason (and a banner says so); under CI (`CI` set, e.g. `CI=true`) that is a
 * failure instead. The conditions and the banner are harness/precondition.ts's, which the
 * examples' corosync suites use too.
 * Uses the same `CPGKIT_CLUSTER_*` variables as the script.
 * @module
 */
import type { TestProject } from 'vitest/node';
import type { ClusterAvailability } from './harness/availability.js';
import { clusterEnv, runClusterScript } from './harness/cluster.js';
import { banner, clusterPrecondition, underCI } from './harness/precondition.js';

async function start(): Promise<ClusterAvailability> {
  const why = clusterPrecondition();
  if (why !== undefined) return { available: false, reason: why };
  // `status` exits 3 when no part of the cluster exists: then this run owns it and takes it down.
  const existed = (await runClusterScript(['status'])).code !== 3;
  const t0 = performance.now();
  const up = await runClusterScript(['up'], { timeoutMs: 300_000 });
  if (up.code !== 0) {
    // leave nothing half-made behind when this run was the one making it
    if (!existed) await runClusterScript(['down']);
    return {
      available: false,
      reason: `scripts/cluster up failed (exit ${up.code}): ${up.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    };
  }
  if (!existed)
    process.stderr.write(`cpgkit cluster: up in ${Math.round(performance.now() - t0)} ms\n`);
  return { available: true, env: await clusterEnv(), broughtUp: !existed };
}

/** vitest global setup: provide `cpgkitCluster` and return the teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const availability = await start();
  project.provide('cpgkitCluster', availability);
  if (!availability.available) {
    const lines = [
      'REAL COROSYNC CLUSTER NOT AVAILABLE: every test in test/cluster is SKIPPED.',
      `reason: ${availability.reason}`,
      'Run the tests as root on Linux (scripts/cluster installs corosync with apt-get).',
    ];
    if (underCI()) {
      banner([...lines, `CI=${process.env.CI}: this is a failure.`]);
      throw new Error(`CI is set and the real corosync cluster cannot run: ${availability.reason}`);
    }
    banner(lines);
    return () => {
      banner(lines);
      return Promise.resolve();
    };
  }
  return async () => {
    if (!availability.broughtUp) return;
    const down = await runClusterScript(['down']);
    if (down.code !== 0) process.stderr.write(`cpgkit cluster: down failed: ${down.stderr}\n`);
  };
}
