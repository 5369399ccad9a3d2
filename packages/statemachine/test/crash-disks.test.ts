/**
 * The tests' disks honour crashes (crash-disks.ts, crashed-processes.ts): a killed process's
 * write that had not started never lands, not even after its restart opened the directory;
 * the write running at the kill lands whole, is lost or is torn, before the restart reads.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCluster } from '@cpgkit/core/testing';
import { SnapshotStore } from '../src/persistence.js';
import { sendRecorded, imageOf, type Counter } from './helpers.js';
import { counterOnDisks, type CounterOnDisk } from './counter-on-disks.js';
import { killNode } from './crashed-processes.js';
import {
  crashAtWrite,
  crashCounts,
  crashDir,
  crashedAppendOutcomes,
  resetCrashCounts,
  type CrashedAppend,
} from './crash-disks.js';
import { suspendSlowDisks } from './slow-disks.js';

/**
 * Three counters on nodes 1-3 of a fresh cluster (seed `seed`), the first's write of 1
 * acknowledged (in `acked`) and on every disk.
 */
async function threeWithOneWrite(
  open: (cluster: MemoryCluster, node: number) => Promise<CounterOnDisk>,
  seed: number,
): Promise<{ cluster: MemoryCluster; ms: CounterOnDisk[]; acked: number[] }> {
  const cluster = new MemoryCluster({ nodes: 3, seed });
  const ms = [await open(cluster, 1), await open(cluster, 2), await open(cluster, 3)];
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
  const acked: number[] = [];
  sendRecorded(ms[0]!, 1, acked);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  await Promise.all(ms.map((m) => m.flush()));
  return { cluster, ms, acked };
}

describe('a crashed process and its pending writes (no disks.lose)', () => {
  const { disks, dataDir, open } = counterOnDisks('cpgkit-crash-disks-');

  const kills = {
    crashProcess: (cluster: MemoryCluster, m: CounterOnDisk) => cluster.crashProcess(m.self),
    killNode: (cluster: MemoryCluster, m: CounterOnDisk) => killNode(cluster, m.self.nodeid),
  };
  for (const [how, kill] of Object.entries(kills))
    it(`${how}: a write pending at the crash never lands, nor does the close of the dead replica`, async () => {
      const { cluster, ms, acked } = await threeWithOneWrite(open, 1);
      // C's disk holds its next writes back: 7 is acknowledged from memory (durability
      // 'memory'), C's write of it waits
      disks().freeze(dataDir(3));
      sendRecorded(ms[0]!, 7, acked);
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
      expect(acked).toEqual([1, 7]);
      expect(ms[2]!.state.log).toEqual([1, 7]);
      resetCrashCounts();
      kill(cluster, ms[2]!);
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
      // the disk comes back: the dead process's write (and its close's) must not land
      disks().thaw(dataDir(3));
      await ms[2]!.close();
      const again = new SnapshotStore(dataDir(3), 'counter');
      const image = await again.load<Counter>();
      await again.close();
      expect(image?.state.log).toEqual([1]);
      expect(crashCounts.dropped).toBeGreaterThan(0);
      for (const m of ms.slice(0, 2)) await m.close();
      cluster.destroy();
    });
});

describe('crashAtWrite: a kill at the instant a write starts', () => {
  const { dataDir, open } = counterOnDisks('cpgkit-crash-at-write-');

  for (const when of ['before', 'running'] as const)
    it(`${when}: the replica dies at its next write, its disk without what that write held`, async () => {
      const restore = crashedAppendOutcomes(['lost']);
      const resume = suspendSlowDisks();
      try {
        const { cluster, ms, acked } = await threeWithOneWrite(open, 2);
        resetCrashCounts();
        crashAtWrite(dataDir(3), when, () => cluster.crashProcess(ms[2]!.self));
        sendRecorded(ms[0]!, 7, acked);
        await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
        expect(ms[2]!.status).toBe('closed');
        expect(acked).toEqual([1, 7]); // A and B are a majority of Q
        await ms[2]!.close();
        const again = new SnapshotStore(dataDir(3), 'counter');
        const image = await again.load<Counter>();
        await again.close();
        expect(image?.state.log).toEqual([1]);
        expect(when === 'before' ? crashCounts.dropped : crashCounts.lost).toBeGreaterThan(0);
        for (const m of ms.slice(0, 2)) await m.close();
        cluster.destroy();
      } finally {
        resume();
        restore();
      }
    });
});

describe('the write running at the crash', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cpgkit-crash-running-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A store with a snapshot of [1]; an append of [1, 2] runs when the process is killed. */
  async function crashDuringAppend(outcome: CrashedAppend): Promise<{
    image: Counter | undefined;
    log: Buffer;
    dead: SnapshotStore;
  }> {
    const restore = crashedAppendOutcomes([outcome]);
    // the append must be running at the crash, not waiting on a slow disk (CPGKIT_SLOW_DISKS)
    const resume = suspendSlowDisks();
    try {
      const store = new SnapshotStore(dir, 'counter');
      await store.load();
      await store.save(imageOf<Counter>({ n: 1, log: [1] }, { index: 1n }));
      resetCrashCounts();
      const appending = store.append({
        ...imageOf(undefined, { index: 2n }),
        patches: [{ op: 'add', path: ['log', 1], value: 2 }],
      } as never);
      crashDir(dir); // the append started in this turn: it is running
      await expect(appending).rejects.toThrow(/EIO/);
      expect(crashCounts[outcome]).toBe(1);
      const again = new SnapshotStore(dir, 'counter');
      const image = await again.load<Counter>();
      await again.close();
      return { image: image?.state, log: await readFile(store.logPath), dead: store };
    } finally {
      resume();
      restore();
    }
  }

  it('lost: the restart reads the snapshot alone', async () => {
    const { image } = await crashDuringAppend('lost');
    expect(image?.log).toEqual([1]);
  });

  it('torn: the restart reads the snapshot alone and cuts the torn record off the log', async () => {
    const { image, log } = await crashDuringAppend('torn');
    expect(image?.log).toEqual([1]);
    expect(log.toString('utf8')).toBe('{"log":"cpgkit","gen":1}\n');
  });

  it('landed: the restart reads the record', async () => {
    const { image } = await crashDuringAppend('landed');
    expect(image?.log).toEqual([1, 2]);
  });

  it('the dead store writes nothing more: its appends fail, its close cuts nothing', async () => {
    const { dead, log } = await crashDuringAppend('landed');
    const size = log.length;
    await expect(
      dead.append({ ...imageOf(undefined, { index: 3n }), patches: [] }),
    ).rejects.toThrow(/EIO/);
    await expect(dead.save(imageOf<Counter>({ n: 9, log: [9] }))).rejects.toThrow(/EIO/);
    await dead.close();
    expect((await readFile(dead.logPath)).length).toBe(size);
    const again = new SnapshotStore(dir, 'counter');
    expect((await again.load<Counter>())?.state.log).toEqual([1, 2]);
    await again.close();
  });
});
