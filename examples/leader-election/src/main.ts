/**
 * The leader-election example: a worker whose periodic job only the leader runs.
 *
 * - In-memory cluster (default): three workers in this process; after a few runs the leader's
 *   node crashes and a standby takes over. Exits after the takeover.
 * - Real corosync: `--corosync --node N` runs one worker (start one in each node's namespace;
 *   kill -9 the leader's process and watch another take over).
 * @module
 */
import { parseArgs } from 'node:util';
import { corosync, embeddedCluster, Group, type GroupTransport } from '@cpgkit/core';
import { Locks } from '@cpgkit/locks';
import { runWorker, watchLeader } from './worker.js';

const GROUP = 'cpgkit-example-election';
const ELECTION = 'nightly-report';

const { values } = parseArgs({
  options: {
    corosync: { type: 'boolean', default: false },
    node: { type: 'string', default: '1' },
    interval: { type: 'string', default: '500' },
  },
});
const intervalMs = Number(values.interval);
const log = (line: string): void =>
  void process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);

async function startWorker(node: number, group: GroupTransport, signal: AbortSignal) {
  const locks = await Locks.open(group, { groupName: GROUP });
  let leader = '';
  void watchLeader(locks, ELECTION, signal, (info) => {
    const now = info.leader
      ? `node ${info.leader.nodeid} (pid ${info.leader.pid}), term ${info.term}`
      : 'nobody';
    if (now !== leader)
      log(`node ${node} observes: leader is ${now}${info.stale ? ' (stale view)' : ''}`);
    leader = now;
  }).catch(() => {});
  const running = runWorker({
    locks,
    election: ELECTION,
    node,
    intervalMs,
    signal,
    job: (run) => {
      log(`node ${node}: runs the job (term ${run.term}, run #${run.n})`);
    },
    onLeadership: (e) =>
      log(
        e.leading
          ? `node ${node}: elected (term ${e.term})`
          : `node ${node}: stops leading: ${e.reason ?? ''}`,
      ),
  });
  return { node, locks, running };
}

const stop = new AbortController();
if (values.corosync) {
  const w = await startWorker(Number(values.node), new Group(corosync()), stop.signal);
  const quit = () => {
    stop.abort();
    void w.running.then(() => w.locks.close()).then(() => process.exit(0));
  };
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
} else {
  const cluster = embeddedCluster({ nodes: 3, seed: 2 });
  const workers = [];
  for (const n of [1, 2, 3]) workers.push(await startWorker(n, cluster.member(n), stop.signal));
  await new Promise((r) => setTimeout(r, intervalMs * 4));
  const leader = workers.find((w) => w.locks.held.length > 0);
  if (leader) {
    log(`*** crashing node ${leader.node} (the leader's) ***`);
    cluster.crashNode(leader.node);
  }
  await new Promise((r) => setTimeout(r, intervalMs * 4));
  stop.abort();
  await Promise.all(workers.map((w) => w.running));
  await Promise.all(workers.map((w) => w.locks.close()));
  cluster.destroy();
  process.exit(0);
}
