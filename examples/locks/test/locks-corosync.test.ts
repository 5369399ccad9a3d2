import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunCluster } from '../../../test/cluster/harness/precondition.js';
import { scriptsCluster, suiteClusterEnv } from '../../../test/cluster/harness/suite-cluster.js';
import { clusterExecArgs } from '../../../scripts/cluster-exec.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// a cluster of this suite's own: nothing it does disturbs a suite on the shared cluster
const env = suiteClusterEnv('exl', 36);
// skips (with a banner) where scripts/cluster cannot run; under CI that fails the file instead
const canRun = canRunCluster('examples/locks on real corosync');

const cluster = scriptsCluster(env);

describe.skipIf(!canRun)(
  'locks example on a real 3-node corosync cluster (root and corosync only)',
  () => {
    let dir: string;
    beforeAll(async () => {
      const up = cluster('up');
      if (up.status !== 0) throw new Error(`scripts/cluster up failed: ${up.stderr}`);
      dir = await mkdtemp(join(tmpdir(), 'cpgkit-locks-corosync-'));
    }, 60_000);
    afterAll(async () => {
      cluster('down');
      await rm(dir, { recursive: true, force: true });
    }, 60_000);

    it('three processes in three namespaces x 6 increments of one file: the counter ends at 18', async () => {
      const file = join(dir, 'counter.json');
      const run = (n: number) =>
        new Promise<{ code: number; out: string }>((resolve) => {
          execFile(
            'bash',
            clusterExecArgs(n, 'examples/locks/src/main.ts', [
              '--corosync',
              '--node',
              String(n),
              '--file',
              file,
              '--increments',
              '6',
            ]),
            { cwd: ROOT, env, timeout: 90_000 },
            (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }),
          );
        });
      const results = await Promise.all([1, 2, 3].map(run));
      for (const r of results) expect(r.code, r.out).toBe(0);
      const final = JSON.parse(await readFile(file, 'utf8')) as { counter: number };
      expect(final.counter).toBe(18);
      // every increment logged its token; tokens strictly increase in the order of the counter
      const steps = results
        .flatMap((r) => [...r.out.matchAll(/counter (\d+) -> \d+ \(token (\d+)\)/g)])
        .map((m) => ({ from: Number(m[1]), token: BigInt(m[2]!) }))
        .sort((a, b) => a.from - b.from);
      expect(steps.map((s) => s.from)).toEqual([...Array(18).keys()]);
      for (let i = 1; i < steps.length; i++)
        expect(steps[i]!.token).toBeGreaterThan(steps[i - 1]!.token);
    }, 120_000);
  },
);
