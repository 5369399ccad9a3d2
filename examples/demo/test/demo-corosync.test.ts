import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunCluster } from '../../../test/cluster/harness/precondition.js';
import { scriptsCluster, suiteClusterEnv } from '../../../test/cluster/harness/suite-cluster.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSX = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));

// A cluster of the demo's own (own namespaces, own subnet): cutting a node off in it never
// disturbs another suite that runs on the shared cluster at the same time.
const env = { ...suiteClusterEnv('demo', 35), NO_COLOR: '1' };
// skips (with a banner) where scripts/cluster cannot run; under CI that fails the file instead
const canRun = canRunCluster('examples/demo on real corosync');

const cluster = scriptsCluster(env);

describe.skipIf(!canRun)(
  'the demo on a real 3-node corosync cluster (root and corosync only)',
  () => {
    beforeAll(() => {
      const up = cluster('up');
      if (up.status !== 0) throw new Error(`scripts/cluster up failed: ${up.stderr}`);
    }, 60_000);
    afterAll(() => {
      cluster('down');
    }, 60_000);

    it('runs the story in three node processes, one per namespace, and converges', async () => {
      const { code, stdout, stderr } = await new Promise<{
        code: number;
        stdout: string;
        stderr: string;
      }>((resolve) => {
        execFile(
          TSX,
          ['--conditions=@cpgkit/source', 'examples/demo/src/main.ts', '--corosync', '--fast'],
          { cwd: ROOT, env, timeout: 60_000 },
          (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
        );
      });
      expect(code, stderr).toBe(0);
      const summary = JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as Record<string, unknown>;
      expect(summary).toMatchObject({ transport: 'corosync', nodes: 3, converged: true });
      expect(summary.leaderChanges).toBeGreaterThanOrEqual(1);
      expect(summary.lockGrants).toBeGreaterThanOrEqual(2);
      expect(summary.configWrites).toBeGreaterThanOrEqual(1);
      expect(stdout).toMatch(/write refused: NoQuorumError/);
      // the demo healed what it cut: every node sees 3 nodes again
      expect(cluster('wait-nodes', '3', '--timeout', '20').status).toBe(0);
    }, 90_000);
  },
);
