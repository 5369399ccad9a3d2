/**
 * The cpgkit demo: `npm run demo`.
 *
 * A 3-node cluster: on real corosync when a cluster made by `scripts/cluster` is up and we
 * are root (or with `--corosync`), otherwise on the in-memory cluster in real time. Tells the
 * story in `scenario.ts`, then prints ONE JSON object as the last line:
 * `{"transport","nodes","leaderChanges","lockGrants","configWrites","converged"}`.
 *
 * Flags: `--memory` / `--corosync` pick the transport; `--fast` (or `CPGKIT_DEMO_FAST=1`)
 * drops the pauses meant for a human reader; `--web [--port N]` serves the live view of the
 * in-memory cluster (`serveLiveView` from `@cpgkit/cli`, the page of `cpgkit serve --http`),
 * prints its URL, and keeps it up after the story until Ctrl-C.
 * @module
 */
import { spawnSync } from 'node:child_process';
import type { LiveView } from '@cpgkit/cli';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ClusterControl } from './node.js';
import { runScenario, type Summary } from './scenario.js';
import { TerminalView } from './view.js';

/** The repository root (for `scripts/cluster`). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      memory: { type: 'boolean', default: false },
      corosync: { type: 'boolean', default: false },
      fast: { type: 'boolean', default: process.env.CPGKIT_DEMO_FAST === '1' },
      seed: { type: 'string' },
      web: { type: 'boolean', default: false },
      port: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run demo [-- --memory | --corosync] [--fast] [--seed N] [--web [--port N]]\n' +
        '  a 3-node cpgkit cluster: members, a config store, a lock, a failover, a heal.\n' +
        '  The last line is a JSON summary.\n' +
        '  --web: also serve the live view of the in-memory cluster (its URL is printed; port 0,\n' +
        '  the default, picks a free one) and keep it up after the story until Ctrl-C.\n',
    );
    return 0;
  }
  if (values.memory && values.corosync) throw new Error('pick one of --memory and --corosync');
  if (values.web && values.corosync)
    throw new Error(
      '--web shows the in-memory cluster (its nodes live in this process): drop --corosync',
    );
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port wants 0-65535, got '${values.port}'`);

  const useCorosync =
    values.corosync ||
    (!values.memory &&
      !values.web &&
      process.env.CPGKIT_DEMO_TRANSPORT !== 'memory' &&
      clusterIsUp());
  const view = new TerminalView(process.stdout);
  const pauseMs = values.fast ? 0 : 1_200;

  let cluster: ClusterControl;
  let live: LiveView | undefined;
  if (useCorosync) {
    if (process.getuid?.() !== 0)
      throw new Error('--corosync needs root (network namespaces, corosync clients)');
    if (!clusterIsUp()) {
      view.event(undefined, 'starting a 3-node corosync cluster: bash scripts/cluster up');
      const up = spawnSync('bash', ['scripts/cluster', 'up'], {
        cwd: ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      if (up.status !== 0) throw new Error('scripts/cluster up failed');
    }
    const { startCorosyncCluster } = await import('./corosync-cluster.js');
    cluster = await startCorosyncCluster({ root: ROOT, nodes: 3 });
  } else {
    const { startMemoryCluster, DEMO_GROUP } = await import('./memory-cluster.js');
    const memory = await startMemoryCluster({ nodes: 3, seed: Number(values.seed ?? 7) });
    cluster = memory;
    if (values.web) {
      const { serveLiveView } = await import('@cpgkit/cli');
      live = await serveLiveView({
        nodes: memory.liveNodes(),
        title: 'cpgkit demo: 3 nodes in memory',
        groups: { store: `${DEMO_GROUP}.config`, locks: `${DEMO_GROUP}.locks` },
        port,
      });
      view.event(undefined, `live view: ${live.url}`);
    }
  }

  let summary: Summary;
  let failed = true;
  try {
    summary = await runScenario(cluster, view, { pauseMs });
    failed = false;
  } finally {
    view.close();
    if (live === undefined || failed) {
      await live?.close();
      await withTimeout(cluster.close(), 10_000);
    }
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (live !== undefined) {
    // the nodes go on (campaigning, holding the election) and the page stays live
    process.stderr.write(`the live view stays up at ${live.url}: Ctrl-C to stop\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await live.close();
    await withTimeout(cluster.close(), 10_000);
  }
  return 0;
}

/** Whether a `scripts/cluster` cluster is up and quorate on every node (and we may use it). */
function clusterIsUp(): boolean {
  if (process.getuid?.() !== 0) return false;
  const status = spawnSync('bash', ['scripts/cluster', 'status'], { cwd: ROOT, encoding: 'utf8' });
  if (status.status !== 0) return false;
  const lines = status.stdout.trim().split('\n');
  return lines.length >= 3 && lines.every((l) => l.includes('quorate=Yes'));
}

async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

// `npm run demo | head`: the reader went away; stop quietly
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
