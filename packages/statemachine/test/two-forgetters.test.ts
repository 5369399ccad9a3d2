/**
 * Two replicas forget one round at once (Jepsen `kill-two-at-vote`, seed 9115, as a
 * deterministic schedule). Five replicas: E dies and is recorded gone, the others bump the epoch
 * at that confchg; the round of A, B, C and D makes the next epoch with `Q` = {A, B, C, D}; A's
 * and B's disks hold the confchg's write (their votes) and nothing after, so they forget the
 * round. A dies first while B is still listed (C and D keep three of four: the majority the
 * bump at a confchg counts), then B; C and D, who hold the unproven round, are cut off; A, B and
 * E come back from their disks, a majority of the `Q` of five those hold, make the forgotten
 * round's epoch again, prove it and acknowledge a write; then the partition heals.
 *
 * Before 3f94f7e C and D moved their unproven epoch up at A's confchg (counting B, who had
 * forgotten the round), so their state out-ranked the proven twin at the heal and the write
 * acknowledged by A, B and E was lost. Five nodes is the smallest cluster of this shape: the
 * bump needs a majority of `Q` after the first forgetter's death, and the forgetters need a
 * majority of their disks' `Q` with the third dead one.
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { expectConverged, counterOnDisks, type CounterOnDisk } from './counter-on-disks.js';
import { closeRunning } from './close-running.js';

const { disks: disksNow, dataDir, open, wipe, openFive } = counterOnDisks('cpgkit-two-forgetters-');

/**
 * What acknowledged writes committed: for each, the log of its sender up to and including it,
 * when its dispatch resolved. Two of them must never differ at one index.
 */
type Committed = number[][];

function dispatchRecorded(
  m: CounterOnDisk,
  add: number,
  acked: number[],
  committed: Committed,
): void {
  m.dispatch({ add }).then(
    () => {
      acked.push(add);
      const log = m.state.log;
      committed.push(log.slice(0, log.lastIndexOf(add) + 1));
    },
    () => undefined,
  );
}

/** `a` is a prefix of `b`. */
function prefixOf(a: readonly number[], b: readonly number[]): boolean {
  return a.length <= b.length && a.every((x, i) => b[i] === x);
}

async function twoForgetters(seed: number): Promise<void> {
  await wipe();
  const disks = disksNow();
  const cluster = new MemoryCluster({ nodes: 5, seed });
  const machines = await openFive(cluster);
  const [a, b, c, d, e] = machines;
  const acked: number[] = [];
  const committed: Committed = [];
  for (const v of [1, 2, 3]) dispatchRecorded(a, v, acked, committed);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  await Promise.all(machines.map((m) => m.flush()));
  // E acked at the current `Q`: it proved it holds it
  expect(acked, `seed ${seed}`).toEqual([1, 2, 3]);
  const epoch1 = c.epoch;

  // E dies (procdown: gone); A's and B's disks take the confchg's write (the bumped epoch, from
  // which they vote) and none after: they forget the round of A, B, C and D
  disks.fullAfterNext(dataDir(1));
  disks.fullAfterNext(dataDir(2));
  cluster.crashProcess(e.self);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  // C and D hold the round (epoch bumped at E's confchg, then the round's), unproven: A and B
  // never ack what their disks do not hold
  expect(c.epoch, `seed ${seed}: the round was made`).toBe(epoch1 + 2);
  const forgotten = c.epoch;

  // A dies while B is still listed: C and D keep three of the four of `Q` (B counted, who forgot
  // the round); then B dies
  cluster.crashProcess(a.self);
  disks.lose(dataDir(1));
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  cluster.crashProcess(b.self);
  disks.lose(dataDir(2));
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  disks.full.delete(dataDir(1));
  disks.full.delete(dataDir(2));
  expect(c.status, `seed ${seed}: C and D hold two of four`).not.toBe('ready');

  // C and D are cut off; A, B and E come back from their disks: three of the five of the `Q`
  // their disks hold
  cluster.partition([1, 2, 5], [3, 4]);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  const back = [await open(cluster, 1), await open(cluster, 2), await open(cluster, 5)];
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
  expect(
    back.map((m) => m.status),
    `seed ${seed}`,
  ).toEqual(['ready', 'ready', 'ready']);
  const [a2, b2, e2] = back as [CounterOnDisk, CounterOnDisk, CounterOnDisk];
  // they made the forgotten round's epoch again (their disks hold the one before it)
  expect(a2.epoch, `seed ${seed}`).toBe(forgotten);
  dispatchRecorded(a2, 100, acked, committed);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
  expect(acked, `seed ${seed}: A, B and E acknowledge`).toEqual([1, 2, 3, 100]);

  cluster.heal();
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
  const all = [a2, b2, c, d, e2];
  expectConverged(all, seed);
  for (const m of all) {
    for (const v of acked) expect(m.state.log, `seed ${seed}: acknowledged ${v}`).toContain(v);
    // no two replicas commit different entries at one index: every committed prefix is one of
    // the history left
    for (const p of committed)
      expect(prefixOf(p, m.state.log), `seed ${seed}: ${p.join(',')}`).toBe(true);
  }
  await closeRunning(cluster, all);
  cluster.destroy();
}

describe('two replicas forget one round at once', () => {
  it('the survivors do not move the unproven epoch: the proven twin leads at the heal, no acknowledged write is lost', async () => {
    for (const seed of [3, 4, 5]) await twoForgetters(seed);
  });
});
