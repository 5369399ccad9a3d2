/**
 * A replica's ack of a new epoch or a new `Q` is the proof that the others count (majorities of
 * the new `Q`, the `gone` rule of replica-set.ts): it must not leave before the write carrying
 * that epoch and `Q` is on the replica's disk. Otherwise a replica killed in between restarts
 * with the older, larger `Q` of its disk and, with a replica cut off before the change, counts
 * as a majority of that stale `Q`: two histories. The disks are simulated (disks.ts): the
 * replica's disk fails after the confchg's write, and what it had not written when it died
 * never lands. (While an ack or a summary waits for a write, the simulation is held,
 * `Clock.hold`: a frozen disk of a process that goes on would hold it for good, so these
 * schedules fail writes instead of freezing them.)
 * Each test fails on the code before the gate.
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import type { MachineEvent } from '../src/index.js';
import { expectOneHistoryAfterRestarts, sendRecorded, startThree } from './helpers.js';
import { counterOnDisks } from './counter-on-disks.js';

const { disks: disksNow, dataDir, open, wipe } = counterOnDisks('cpgkit-proof-');

describe('the proof of a new Q waits for the disk', () => {
  it('a replica killed while its new Q is being written is not counted as holding it: no fork after the restarts', async () => {
    for (const seed of [3, 4, 5]) {
      await wipe();
      const disks = disksNow();
      const cluster = new MemoryCluster({ nodes: 3, seed });
      const { machines, acked } = await startThree(cluster, (n) => open(cluster, n), [1]);
      const [a, b, c] = machines;
      // C dies; B's disk takes the confchg's write (C gone, the epoch moved: B votes from
      // what its disk holds, as a summary must) and then fails; A and B end a round with
      // Q = {A, B} and a new epoch, and B dies at the end of that round (a turn later: time
      // for an ack to leave), before its disk holds any of it
      disks.fullAfterNext(dataDir(2));
      let armed = true;
      b.subscribe((change) => {
        if (change.kind !== 'sync' || !armed) return;
        armed = false;
        setImmediate(() => {
          cluster.crashProcess(b.self);
          disks.lose(dataDir(2));
          disks.full.delete(dataDir(2));
        });
      });
      cluster.crashProcess(c.self);
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
      expect(armed).toBe(false);
      // A alone may go on only if B proved it held Q = {A, B}
      sendRecorded(a, 10, acked);
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
      await a.flush().catch(() => undefined);
      // B and C come back from their disks: Q = {A, B, C} on both
      await expectOneHistoryAfterRestarts(cluster, (n) => open(cluster, n), acked, seed);
      cluster.destroy();
    }
  });

  it('a full disk: the round-end ack waits (persist-failed says why) and goes once a write succeeds', async () => {
    const disks = disksNow();
    const cluster = new MemoryCluster({ nodes: 3, seed: 21 });
    const [a, b, c] = [await open(cluster, 1), await open(cluster, 2), await open(cluster, 3)];
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
    const failed: Extract<MachineEvent, { type: 'persist-failed' }>[] = [];
    b.on('persist-failed', (e) => failed.push(e));
    // B's disk takes the confchg's write (B votes from what its disk holds) and then fails
    await Promise.all([a.flush(), b.flush(), c.flush()]);
    disks.fullAfterNext(dataDir(2));
    cluster.crashProcess(c.self);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 500 });
    expect([a.status, b.status, a.replicas.length]).toEqual(['ready', 'ready', 2]);
    expect(failed.length).toBeGreaterThan(0);
    // Q = {A, B}: A's write needs B's ack, which waits for B's disk
    const acked: number[] = [];
    sendRecorded(a, 1, acked);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
    expect(acked).toEqual([]);
    disks.full.delete(dataDir(2)); // the journal tries again (RETRY_FAILED_WRITE_MS)
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
    expect(acked).toEqual([1]);
    for (const m of [a, b]) await m.close();
    cluster.destroy();
  });

  it('closing while the ack waits for the disk: it retires, the others go on, close resolves', async () => {
    const disks = disksNow();
    const cluster = new MemoryCluster({ nodes: 3, seed: 22 });
    const [a, b, c] = [await open(cluster, 1), await open(cluster, 2), await open(cluster, 3)];
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
    await Promise.all([a.flush(), b.flush(), c.flush()]);
    disks.fullAfterNext(dataDir(2));
    let closing: Promise<void> | undefined;
    b.subscribe((change) => {
      if (change.kind !== 'sync' || closing !== undefined) return;
      closing = b.close();
      // the disk takes writes again: close's flush ends
      setImmediate(() => disks.full.delete(dataDir(2)));
    });
    cluster.crashProcess(c.self);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
    expect(closing).toBeDefined();
    await closing;
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
    expect([a.status, b.status]).toEqual(['ready', 'closed']);
    expect(a.replicas).toEqual([a.replicaId]); // B retired
    await a.close();
    cluster.destroy();
  });
});
