/**
 * Whether the real cluster is there for this run: decided once by the global setup and
 * handed to every test file through vitest's `provide`/`inject`.
 * @module
 */
import { beforeEach, inject } from 'vitest';
import type { ClusterEnv } from './cluster.js';

/** What the global setup found: a running cluster, or why there is none. */
export type ClusterAvailability =
  | { readonly available: true; readonly env: ClusterEnv; readonly broughtUp: boolean }
  | { readonly available: false; readonly reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by test/cluster/globalSetup.ts. */
    cpgkitCluster: ClusterAvailability;
  }
}

/** The cluster of this run (from the global setup). Only callable inside test files. */
export function clusterAvailability(): ClusterAvailability {
  return inject('cpgkitCluster');
}

/**
 * Call at the top of a real-cluster test file (or `describe`): every test in scope is skipped,
 * with the reason as its note, when there is no cluster. Returns the cluster's description
 * when there is one, else `undefined`.
 *
 * @example
 * ```ts
 * const env = requireCluster();
 * it('...', async () => { const fx = await RealCluster.open(); ... });
 * ```
 */
export function requireCluster(): ClusterEnv | undefined {
  const a = clusterAvailability();
  beforeEach((ctx) => {
    if (!a.available) ctx.skip(`no real corosync cluster: ${a.reason}`);
  });
  return a.available ? a.env : undefined;
}
