/**
 * A round that moves `Q` to a set whose majority is not a majority of the old `Q`, when a
 * replica counted in the old `Q`'s majority forgets the round (killed after its summary counted,
 * before its disk held the round's epoch and `Q`): its vote must not count again elsewhere.
 *
 * Five replicas A-E hold `Q` = {A, B, C, D, E}. D and E are cut off; A, B and C (a majority of
 * that `Q`) make a round whose `Q` is {A, B, C}, and A's disk is full from then on. B dispatches
 * writes; A is killed. A comes back from its disk (the older epoch, the old `Q` of five) with D
 * and E: a majority of its disk's `Q`. Every acknowledged write must be in the one history left
 * once the partition heals: B's, acknowledged with B and C (2 of 3), and A's, acknowledged with D
 * and E (3 of 5), cannot both be.
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { sendRecorded } from './helpers.js';
import { expectConverged, counterOnDisks } from './counter-on-disks.js';

const { disks: disksNow, dataDir, open, wipe, openFive } = counterOnDisks('cpgkit-joint-');

async function shrinkAndForget(seed: number): Promise<void> {
  await wipe();
  const disks = disksNow();
  const cluster = new MemoryCluster({ nodes: 5, seed });
  const machines = await openFive(cluster);
  const [a, b, c, d, e] = machines;
  const acked: number[] = [];
  for (const v of [1, 2, 3]) sendRecorded(a, v, acked);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  await Promise.all(machines.map((m) => m.flush()));
  expect(acked, `seed ${seed}`).toEqual([1, 2, 3]);
  // A's disk takes the confchg's write (its vote for the round), and none after
  disks.fullAfterNext(dataDir(1));
  let armed = true;
  b.subscribe((change) => {
    if (change.kind !== 'sync' || !armed || b.status !== 'ready') return;
    armed = false;
    for (const v of [7, 8, 9]) sendRecorded(b, v, acked);
  });
  cluster.partition([1, 2, 3], [4, 5]);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
  armed = false;
  cluster.crashProcess(a.self);
  disks.lose(dataDir(1));
  disks.full.delete(dataDir(1));
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  // A comes back from its disk with D and E, cut off from B and C
  cluster.partition([1, 4, 5], [2, 3]);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  const a2 = await open(cluster, 1);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
  if (a2.status === 'ready') sendRecorded(a2, 100, acked);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
  cluster.heal();
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
  const all = [a2, b, c, d, e];
  expectConverged(all, seed);
  for (const v of acked) expect(b.state.log, `seed ${seed}: acknowledged ${v}`).toContain(v);
  // A, D and E hold a majority of both: their side takes writes
  expect(acked, `seed ${seed}`).toContain(100);
  for (const m of all) await m.close();
  cluster.destroy();
}

describe('a change of Q by more than half, with a forgotten vote', () => {
  it('the forgotten vote does not make a second majority: every acknowledged write survives', async () => {
    for (const seed of [3, 4, 5]) await shrinkAndForget(seed);
  });
});
