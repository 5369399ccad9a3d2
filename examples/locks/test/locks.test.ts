import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { Locks, locksMachine, StaleTokenError } from '@cpgkit/locks';
import { ReplicatedStateMachine } from '@cpgkit/statemachine';
import { FencedFile } from '../src/fenced-file.js';
import { COUNTER_LOCK, incrementCounter, runIfFree, withPermit } from '../src/worker.js';

let cluster: MemoryCluster;
let workers: Locks[];
let dir: string;
let file: FencedFile;

beforeEach(async () => {
  cluster = new MemoryCluster({ nodes: 3, seed: 23 });
  const opening = [1, 2, 3].map((n) =>
    ReplicatedStateMachine.open(cluster.member(n), locksMachine(), {
      groupName: 'locks-example-test',
    }),
  );
  await cluster.runUntilIdle();
  workers = (await Promise.all(opening)).map((m) => new Locks(m, { closeMachine: true }));
  await drive(Promise.all(workers.map((w) => w.machine.ready())));
  dir = await mkdtemp(join(tmpdir(), 'cpgkit-locks-example-'));
  file = new FencedFile(join(dir, 'counter.json'));
});

afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()));
  cluster.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** Run the cluster (virtual time, 5 ms steps) until `p` settles. */
async function drive<T>(p: Promise<T>): Promise<T> {
  let done = false;
  const watched = p.finally(() => (done = true));
  for (let i = 0; !done && i < 100_000; i++) await cluster.advance(5);
  return watched;
}

const sleep = (ms: number) => new Promise<void>((r) => cluster.clock.setTimeout(r, ms));

describe('locks example: a shared file under a fenced lock', () => {
  it('three workers x 8 increments under withLock: the counter ends at 24 (no lost update)', async () => {
    await drive(
      Promise.all(
        workers.map((locks, i) =>
          incrementCounter({ locks, file, worker: `worker-${i + 1}`, times: 8, workMs: 10, sleep }),
        ),
      ),
    );
    const final = await file.read();
    expect(final.counter).toBe(24);
    expect(BigInt(final.token)).toBeGreaterThan(0n);
  });

  it('a holder cut off in a minority loses its lock; its late write carries a stale token and is rejected', async () => {
    const [a, b] = workers as [Locks, Locks, Locks];
    const old = await drive(a.acquire(COUNTER_LOCK));
    await file.write(old.token, 'worker-1', 1);
    cluster.partition(
      [a.machine.self.nodeid],
      [2, 3].filter((n) => n !== a.machine.self.nodeid),
    );
    await drive(sleep(100));
    expect(old.signal.aborted).toBe(true); // it learns it at once (quorum lost)...
    const fresh = await drive(b.acquire(COUNTER_LOCK, { timeout: 5_000 }));
    expect(fresh.token).toBeGreaterThan(old.token);
    await file.write(fresh.token, 'worker-2', 2);
    // ...but a paused or careless holder may still try to write: the file refuses it
    await expect(file.write(old.token, 'worker-1', 99)).rejects.toBeInstanceOf(StaleTokenError);
    expect(await file.read()).toEqual({
      counter: 2,
      token: fresh.token.toString(),
      writer: 'worker-2',
    });
    await drive(fresh.release());
    cluster.heal();
    await cluster.runUntilIdle();
  });

  it('tryAcquire: of three workers asking at once, one runs the job and the others skip it', async () => {
    const ran = await drive(
      Promise.all(workers.map((locks) => runIfFree(locks, 'backup', () => sleep(50)))),
    );
    expect(ran.filter(Boolean)).toHaveLength(1);
  });

  it('a semaphore of 2 permits: never more than 2 jobs at once, and 2 do run together', async () => {
    let running = 0;
    let most = 0;
    const tokens: bigint[] = [];
    await drive(
      Promise.all(
        workers.flatMap((locks) =>
          [1, 2].map(() =>
            withPermit(locks, 'uploads', 2, async (token) => {
              tokens.push(token);
              most = Math.max(most, ++running);
              await sleep(20);
              running--;
            }),
          ),
        ),
      ),
    );
    expect(tokens).toHaveLength(6);
    expect(most).toBe(2);
    expect(new Set(tokens).size).toBe(6);
  });
});
