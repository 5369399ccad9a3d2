/**
 * The statemachine example: the deployment pipeline of `pipeline.ts`, replicated.
 *
 * - In-memory cluster (default): three nodes in this process; deploys v2 from node 1, reports
 *   the build from node 2, and every node moves from canary to live together when the
 *   replicated timer fires. Exits when all are live.
 * - Real corosync: `--corosync` runs one replica (start one in each node's namespace) and
 *   prints every state it reaches; `--send '{"type":"DEPLOY","version":"v2"}'` sends one
 *   event and exits.
 * @module
 */
import { parseArgs } from 'node:util';
import { corosync, embeddedCluster, Group, type GroupTransport } from '@cpgkit/core';
import { replicateMachine, type ReplicatedActor } from '@cpgkit/statemachine/xstate';
import { CANARY_MS, pipeline, type PipelineEvent } from './pipeline.js';

const GROUP = 'cpgkit-example-pipeline';

const { values } = parseArgs({
  options: {
    corosync: { type: 'boolean', default: false },
    send: { type: 'string' },
    node: { type: 'string', default: '' },
  },
});

const log = (line: string) =>
  process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);

/** One replica; `announce` (a side effect) runs on the executor only. */
async function replica(
  name: string,
  group: GroupTransport,
): Promise<ReplicatedActor<typeof pipeline>> {
  const machine = pipeline.provide({
    actions: {
      announce: (_, params: { text: string }) =>
        log(`${name}: ANNOUNCE ${params.text} (executor only)`),
    },
  });
  const actor = await replicateMachine(machine, group, { groupName: GROUP, execute: 'executor' });
  let last = '';
  actor.machine.subscribe(() => {
    const s = actor.snapshot;
    const line = `${String(s.value)} ${s.context.version ?? ''}`;
    if (line !== last) log(`${name}: ${line}`);
    last = line;
  });
  return actor;
}

if (values.corosync) {
  const name = `node ${values.node || '?'}`;
  const actor = await replica(name, new Group(corosync()));
  await actor.ready({ timeout: 30_000 });
  log(`${name}: ready in state ${String(actor.snapshot.value)}`);
  if (values.send) {
    await actor.send(JSON.parse(values.send) as PipelineEvent, { timeout: 10_000 });
    await actor.close();
    process.exit(0);
  }
  const stop = () => void actor.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} else {
  const cluster = embeddedCluster({ nodes: 3, seed: 3 });
  const actors = await Promise.all([1, 2, 3].map((n) => replica(`node ${n}`, cluster.member(n))));
  await Promise.all(actors.map((a) => a.ready({ timeout: 10_000 })));
  log('node 1: sends DEPLOY v2');
  await actors[0]!.send({ type: 'DEPLOY', version: 'v2' });
  log('node 2: sends BUILT');
  await actors[1]!.send({ type: 'BUILT' });
  log(`every node waits ${CANARY_MS} ms of replicated time in canary...`);
  const live = () => actors.every((a) => a.snapshot.value === 'live');
  const start = Date.now();
  while (!live() && Date.now() - start < CANARY_MS + 10_000)
    await new Promise((r) => setTimeout(r, 50));
  const digests = new Set(actors.map((a) => a.machine.digest()));
  log(
    `${live() ? 'all live' : 'NOT all live'}; state digests ${digests.size === 1 ? 'equal' : 'DIFFERENT'}`,
  );
  await Promise.all(actors.map((a) => a.close()));
  cluster.destroy();
  process.exit(live() && digests.size === 1 ? 0 : 1);
}
