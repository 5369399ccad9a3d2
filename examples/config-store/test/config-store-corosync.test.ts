import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunCluster } from '../../../test/cluster/harness/precondition.js';
import { scriptsCluster, suiteClusterEnv } from '../../../test/cluster/harness/suite-cluster.js';
import { clusterExecArgs } from '../../../scripts/cluster-exec.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// a cluster of this suite's own: cutting node 3 off never disturbs a suite on the shared cluster
const env = suiteClusterEnv('exc', 37);
// skips (with a banner) where scripts/cluster cannot run; under CI that fails the file instead
const canRun = canRunCluster('examples/config-store on real corosync', ['curl']);
const PORT = '8080';

const cluster = scriptsCluster(env);

/** curl inside node N's namespace (each namespace has its own loopback). */
function curl(
  n: number,
  method: string,
  path: string,
  body?: string,
): { status: number; body: Record<string, unknown> } {
  const args = [
    'exec',
    String(n),
    'curl',
    '-s',
    '-w',
    '\n%{http_code}',
    '-X',
    method,
    `http://127.0.0.1:${PORT}${path}`,
  ];
  if (body !== undefined) args.push('-d', body);
  const r = cluster(...args);
  const lines = r.stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: JSON.parse(lines.join('\n') || '{}') as Record<string, unknown> };
}

async function eventually(f: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!canRun)(
  'config-store on a real 3-node corosync cluster (root, corosync, curl)',
  () => {
    const servers: ChildProcess[] = [];
    beforeAll(async () => {
      const up = cluster('up');
      if (up.status !== 0) throw new Error(`scripts/cluster up failed: ${up.stderr}`);
      const ready: Promise<void>[] = [];
      for (const n of [1, 2, 3]) {
        const child = spawn(
          'bash',
          clusterExecArgs(n, 'examples/config-store/src/main.ts', [
            '--corosync',
            '--node',
            String(n),
            '--port',
            PORT,
          ]),
          { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        servers.push(child);
        ready.push(
          new Promise((resolve, reject) => {
            let out = '';
            child.stdout.on('data', (d: Buffer) => {
              out += d.toString();
              if (out.includes('ready;')) resolve();
            });
            child.on('exit', (code) =>
              reject(new Error(`node ${n}'s server exited (${code}): ${out}`)),
            );
          }),
        );
      }
      await Promise.all(ready);
    }, 90_000);
    afterAll(async () => {
      for (const s of servers) s.kill('SIGTERM'); // the processes this suite started, by pid
      await Promise.all(
        servers.map((s) =>
          s.exitCode === null ? new Promise((r) => s.on('exit', r)) : Promise.resolve(),
        ),
      );
      cluster('down');
    }, 60_000);

    it('PUT on node 1, GET on node 3, compare-and-set conflict, no write without quorum', async () => {
      const w = curl(1, 'PUT', '/kv/db%2Furl', '"postgres://db1"');
      expect(w.status).toBe(200);
      await eventually(() => curl(3, 'GET', '/kv/db%2Furl').status === 200);
      expect(curl(3, 'GET', '/kv/db%2Furl').body).toMatchObject({
        value: 'postgres://db1',
        revision: w.body.revision,
      });

      const lost = curl(2, 'PUT', '/kv/db%2Furl?revision=0', '"x"');
      expect(lost.status).toBe(409);
      expect(lost.body.current).toBe(w.body.revision);

      expect(cluster('isolate', '3').status).toBe(0);
      try {
        await eventually(() => curl(3, 'GET', '/status').body.status === 'minority', 20_000);
        expect(curl(3, 'PUT', '/kv/a', '1').status).toBe(503);
        expect(curl(1, 'PUT', '/kv/a', '2').status).toBe(200);
      } finally {
        cluster('heal');
      }
      // after the heal, node 3 catches up and every digest agrees
      await eventually(() => {
        const d = [1, 2, 3].map((n) => curl(n, 'GET', '/status').body);
        return d.every((s) => s.status === 'ready' && s.digest === d[0]!.digest);
      }, 30_000);
      expect(curl(3, 'GET', '/kv/a').body.value).toBe(2);
    }, 90_000);
  },
);
