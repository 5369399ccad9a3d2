/**
 * The locks example: workers increment a counter in a shared file under a fenced lock.
 *
 * - In-memory cluster (default): three workers in this process, `--increments` each; then a
 *   `tryAcquire` job and a semaphore of 2 permits. Checks the final counter.
 * - Real corosync: `--corosync --node N` runs one worker (start one in each node's namespace,
 *   all with the same `--file`; the namespaces share the filesystem).
 * @module
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { corosync, embeddedCluster, Group, type GroupTransport } from '@cpgkit/core';
import { Locks } from '@cpgkit/locks';
import { FencedFile } from './fenced-file.js';
import { incrementCounter, runIfFree, withPermit } from './worker.js';

const GROUP = 'cpgkit-example-locks';

const { values } = parseArgs({
  options: {
    corosync: { type: 'boolean', default: false },
    node: { type: 'string', default: '1' },
    file: { type: 'string', default: join(tmpdir(), 'cpgkit-counter.json') },
    increments: { type: 'string', default: '10' },
  },
});
const times = Number(values.increments);
const file = new FencedFile(values.file);
const log = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function open(group: GroupTransport): Promise<Locks> {
  const locks = await Locks.open(group, { groupName: GROUP });
  await locks.machine.ready({ timeout: 30_000 });
  return locks;
}

async function work(locks: Locks, name: string): Promise<void> {
  await incrementCounter({ locks, file, worker: name, times, workMs: 5, sleep, log });
  const ran = await runIfFree(locks, 'nightly-backup', async () => {
    log(`${name}: runs the backup (tryAcquire got the lock)`);
    await sleep(300);
  });
  if (!ran) log(`${name}: backup already running elsewhere, skipped (tryAcquire)`);
  await withPermit(locks, 'uploads', 2, async (token) => {
    log(`${name}: uploading with permit ${token} (at most 2 at once)`);
    await sleep(200);
  });
}

const before = (await file.read()).counter;
if (values.corosync) {
  const name = `node ${values.node}`;
  const locks = await open(new Group(corosync()));
  await work(locks, name);
  await locks.close();
  log(`${name}: done; the counter is ${(await file.read()).counter}`);
} else {
  const cluster = embeddedCluster({ nodes: 3, seed: 4 });
  const workers = await Promise.all([1, 2, 3].map((n) => open(cluster.member(n))));
  await Promise.all(workers.map((locks, i) => work(locks, `worker ${i + 1}`)));
  await Promise.all(workers.map((w) => w.close()));
  cluster.destroy();
  const after = (await file.read()).counter;
  const expected = before + 3 * times;
  log(
    `counter ${before} -> ${after}; expected ${expected}: ${after === expected ? 'no update lost' : 'UPDATES LOST'}`,
  );
  process.exitCode = after === expected ? 0 : 1;
}
