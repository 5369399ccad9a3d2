/**
 * Counter replicas on simulated disks (disks.ts), one data directory per node in a temporary
 * directory of their own, made before each test and removed after it: the setup of the tests
 * that kill replicas around their disk writes (proof-on-disk, forgotten-round).
 * @module
 */
import { beforeEach, afterEach, expect, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine } from '../src/index.js';
import { counter, type Counter, type CounterCmd } from './helpers.js';
import { Disks } from './disks.js';

export type CounterOnDisk = ReplicatedStateMachine<Counter, CounterCmd, number>;

/** What a test file gets from `counterOnDisks`; valid inside its tests. */
export interface CounterDisks {
  /** The disks of this test (a new `Disks` per test). */
  readonly disks: () => Disks;
  /** Node `n`'s data directory. */
  readonly dataDir: (n: number) => string;
  /** Open a counter replica on node `n` from its data directory (`bootstrap: 'alone'`). */
  readonly open: (cluster: MemoryCluster, n: number) => Promise<CounterOnDisk>;
  /** Empty the temporary directory (a test that runs several schedules, one after another). */
  readonly wipe: () => Promise<void>;
  /** Open a replica on each of five nodes and let their first rounds end (3 virtual s). */
  readonly openFive: (cluster: MemoryCluster) => Promise<Five>;
}

/** The replicas on nodes 1 to 5. */
export type Five = [CounterOnDisk, CounterOnDisk, CounterOnDisk, CounterOnDisk, CounterOnDisk];

/** Register the hooks of a test file whose replicas live on simulated disks. */
export function counterOnDisks(prefix: string): CounterDisks {
  let dir = '';
  let disks: Disks | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    disks = new Disks();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });
  const dataDir = (n: number): string => join(dir, `d${n}`);
  const open = (cluster: MemoryCluster, n: number): Promise<CounterOnDisk> =>
    ReplicatedStateMachine.open(cluster.member(n), counter, {
      checkInterval: 0,
      syncTimeout: 500,
      dataDir: dataDir(n),
      bootstrap: 'alone',
    });
  return {
    disks: () => disks!,
    dataDir,
    open,
    wipe: () => rm(dir, { recursive: true, force: true }),
    openFive: async (cluster) => {
      const machines: CounterOnDisk[] = [];
      for (const n of [1, 2, 3, 4, 5]) machines.push(await open(cluster, n));
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
      return machines as Five;
    },
  };
}

/** After the heal: every replica of `all` is ready, with one digest. */
export function expectConverged(all: readonly CounterOnDisk[], seed: number): void {
  expect(
    all.map((m) => m.status),
    `seed ${seed}`,
  ).toEqual(all.map(() => 'ready'));
  expect(new Set(all.map((m) => m.digest())).size, `seed ${seed}`).toBe(1);
}
