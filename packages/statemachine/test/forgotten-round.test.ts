/**
 * A replica that took part in a quorate round and was killed before its disk held the round's
 * epoch comes back from the older epoch of its disk: it forgot the round. The replicas of the
 * round kept its epoch `e`. If the forgetful replica then makes a majority of its disk's older
 * `Q` with a replica that was cut off before the round, their round must not get the same epoch
 * `e`: at the merge the newest state leads by (epoch, index), and a state of a round nobody
 * proved must not beat the history that acknowledged writes since.
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { sendRecorded, startThree } from './helpers.js';
import { counterOnDisks } from './counter-on-disks.js';

const { disks: disksNow, dataDir, open, wipe } = counterOnDisks('cpgkit-forgotten-');

/**
 * C dies; A's disk is full from the confchg on (`full: 'before'`), or right after taking the
 * confchg's write (C gone, the epoch moved; `full: 'after'`); B dispatches three commands when
 * its round ends, and A dies once it applied them, or (no round) once the cluster is idle.
 * A's and C's processes come back from their disks while B is cut off, and take a write; then
 * the partition heals. Every acknowledged write is in the one history left, and none of B's
 * commands of a round nobody proved was acknowledged.
 */
async function forgetAndMerge(seed: number, full: 'before' | 'after'): Promise<void> {
  await wipe();
  const disks = disksNow();
  const cluster = new MemoryCluster({ nodes: 3, seed });
  const { machines, acked } = await startThree(cluster, (n) => open(cluster, n), [1, 2, 3]);
  const [a, b, c] = machines;
  if (full === 'before') disks.full.add(dataDir(1));
  else disks.fullAfterNext(dataDir(1));
  const unproven: number[] = [];
  let armed = true;
  b.subscribe((change) => {
    if (change.kind !== 'sync' || !armed || b.status !== 'ready') return;
    armed = false;
    for (const v of [7, 8, 9]) sendRecorded(b, v, unproven);
  });
  const killA = (): void => {
    if (a.status === 'closed') return;
    cluster.crashProcess(a.self);
    disks.lose(dataDir(1));
    disks.full.delete(dataDir(1));
  };
  a.subscribe(() => {
    if (a.state.log.includes(9)) killA();
  });
  cluster.crashProcess(c.self);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
  killA();
  armed = false;
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  expect(unproven, `seed ${seed}: commands of an unproven epoch`).toEqual([]);
  // B alone (a minority of Q = {A, B} or {A, B, C}) is cut off from A's and C's comeback,
  // which is a majority of their disks' Q = {A, B, C}
  cluster.partition([1, 3], [2]);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  const [a2, c2] = [await open(cluster, 1), await open(cluster, 3)];
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
  expect([a2.status, c2.status], `seed ${seed}`).toEqual(['ready', 'ready']);
  expect(a2.state.log).toEqual([1, 2, 3]);
  sendRecorded(a2, 100, acked);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
  expect(acked, `seed ${seed}`).toEqual([1, 2, 3, 100]);
  cluster.heal();
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
  const all = [a2, b, c2];
  expect(
    all.map((m) => m.status),
    `seed ${seed}`,
  ).toEqual(['ready', 'ready', 'ready']);
  expect(new Set(all.map((m) => m.digest())).size).toBe(1);
  expect(b.state.log, `seed ${seed}`).toEqual([1, 2, 3, 100]);
  expect(unproven, `seed ${seed}`).toEqual([]);
  for (const m of all) await m.close();
  cluster.destroy();
}

describe('a round forgotten by a killed replica', () => {
  it('the forgotten round has the epoch of the one made after the restart: the proven one leads at the merge', async () => {
    // A voted from what its disk held; its disk never held the round's end
    for (const seed of [3, 4, 5]) await forgetAndMerge(seed, 'after');
  });

  it('a summary waits for the disk: a vote cast from an epoch the disk does not hold would be forgotten two epochs deep', async () => {
    // A's disk never held the epoch moved at the confchg: A does not vote from it, so B has
    // no quorate round, and the round A and C make later is not behind B's epoch
    for (const seed of [3, 4, 5]) await forgetAndMerge(seed, 'before');
  });
});
