import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunCluster } from '../../../test/cluster/harness/precondition.js';
import { scriptsCluster, suiteClusterEnv } from '../../../test/cluster/harness/suite-cluster.js';
import { clusterExecArgs } from '../../../scripts/cluster-exec.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// a cluster of this suite's own, so that nothing here disturbs a suite on the shared cluster
const env = suiteClusterEnv('exe', 38);
// skips (with a banner) where scripts/cluster cannot run; under CI that fails the file instead
const canRun = canRunCluster('examples/leader-election on real corosync');

const cluster = scriptsCluster(env);

interface Worker {
  readonly node: number;
  readonly child: ChildProcess;
  out: string;
}

async function eventually(f: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!canRun)(
  'leader election on a real 3-node corosync cluster (root and corosync only)',
  () => {
    const workers: Worker[] = [];
    beforeAll(() => {
      const up = cluster('up');
      if (up.status !== 0) throw new Error(`scripts/cluster up failed: ${up.stderr}`);
    }, 60_000);
    afterAll(async () => {
      for (const w of workers)
        if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await Promise.all(
        workers.map((w) =>
          w.child.exitCode === null && w.child.signalCode === null
            ? new Promise((r) => w.child.on('exit', r))
            : Promise.resolve(),
        ),
      );
      cluster('down');
    }, 60_000);

    it('kill -9 the leader: another worker is elected with a newer term; one runner per term', async () => {
      for (const node of [1, 2, 3]) {
        const child = spawn(
          'bash',
          clusterExecArgs(node, 'examples/leader-election/src/main.ts', [
            '--corosync',
            '--node',
            String(node),
            '--interval',
            '200',
          ]),
          { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        const w: Worker = { node, child, out: '' };
        child.stdout.on('data', (d: Buffer) => (w.out += d.toString()));
        workers.push(w);
      }
      // everyone sees a leader
      await eventually(
        () => workers.every((w) => /observes: leader is node \d/.test(w.out)),
        60_000,
      );
      const elected = (w: Worker) =>
        [...w.out.matchAll(/elected \(term (\d+)\)/g)].map((m) => BigInt(m[1]!));
      await eventually(() => workers.some((w) => elected(w).length > 0), 10_000);
      const leader = workers.find((w) => elected(w).length > 0)!;
      const firstTerm = elected(leader)[0]!;
      await eventually(() => /runs the job/.test(leader.out), 5_000);

      leader.child.kill('SIGKILL'); // the worker process this test started: corosync sees PROCDOWN
      const others = workers.filter((w) => w !== leader);
      await eventually(() => others.some((w) => elected(w).length > 0), 10_000);
      const next = others.find((w) => elected(w).length > 0)!;
      expect(elected(next)[0]!).toBeGreaterThan(firstTerm);
      await eventually(() => /runs the job/.test(next.out), 5_000);

      // one runner per term, across all three workers' logs
      const runners = new Map<string, Set<number>>();
      for (const w of workers) {
        for (const m of w.out.matchAll(/runs the job \(term (\d+)/g)) {
          runners.set(m[1]!, (runners.get(m[1]!) ?? new Set()).add(w.node));
        }
      }
      expect(runners.size).toBeGreaterThanOrEqual(2);
      for (const nodes of runners.values()) expect(nodes.size).toBe(1);
    }, 120_000);
  },
);
