import { expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine, type MachineDefinition, type OpenOptions } from '../src/index.js';
import type { Image } from '../src/image.js';
import { killNode } from './crashed-processes.js';

export interface Counter {
  n: number;
  log: number[];
}
export type CounterCmd = { add: number } | { fail: string };

/** A counter that remembers every add (so that lost or duplicated commands show). */
export const counter: MachineDefinition<Counter, CounterCmd, number> = {
  name: 'counter',
  initial: () => ({ n: 0, log: [] }),
  apply(draft, cmd) {
    if ('fail' in cmd) {
      draft.n = -1000; // discarded: apply throws
      throw new RangeError(cmd.fail);
    }
    draft.n += cmd.add;
    draft.log.push(cmd.add);
    return draft.n;
  },
};

/**
 * Open replicas of `def` on `nodes` of a brand-new cluster the test made: they may start the
 * store without a replica on every node of the ring (`bootstrap: 'alone'`, unless `options`
 * say otherwise).
 */
export async function openAll<S, C, R>(
  cluster: MemoryCluster,
  nodes: number[],
  def: MachineDefinition<S, C, R>,
  options: OpenOptions = {},
): Promise<ReplicatedStateMachine<S, C, R>[]> {
  const ms: ReplicatedStateMachine<S, C, R>[] = [];
  for (const n of nodes)
    ms.push(
      await ReplicatedStateMachine.open(cluster.member(n), def, {
        checkInterval: 0,
        bootstrap: 'alone',
        ...options,
      }),
    );
  await cluster.runUntilIdle();
  return ms;
}

/** Dispatch `add` and run the cluster until it is applied; resolves with the new total. */
export async function write(
  cluster: MemoryCluster,
  m: ReplicatedStateMachine<Counter, CounterCmd, number>,
  add: number,
): Promise<number> {
  const p = m.dispatch({ add });
  await cluster.runUntilIdle();
  return p;
}

/**
 * An image of `state` with metadata of every kind set (epoch 4, index 123, three nodes),
 * `meta` replacing any of it.
 */
export function imageOf<S>(state: S, meta: Partial<Omit<Image<S>, 'state'>> = {}): Image<S> {
  return {
    epoch: 4,
    index: 123n,
    time: 77,
    members: [{ nodeid: 1, pid: 2, incarnation: 'i' }] as never,
    knownNodes: [1, 2, 3],
    replicas: ['r1', 'r2'],
    gone: [],
    settled: 4,
    provenReplicas: [],
    provenGone: [],
    ...meta,
    state,
  };
}

type CounterMachine = ReplicatedStateMachine<Counter, CounterCmd, number>;

/** Dispatch `{ add }` on `m` and record `add` in `acked` once it is acknowledged. */
export function sendRecorded(m: CounterMachine, add: number, acked: number[]): void {
  m.dispatch({ add }).then(
    () => acked.push(add),
    () => undefined,
  );
}

/**
 * The start of a fork schedule (safety.test, proof-on-disk.test, forgotten-round.test): the
 * replicas of nodes 1-3 open (`open`) and sync, the first one's `adds` are acknowledged (checked),
 * and every disk holds them.
 */
export async function startThree(
  cluster: MemoryCluster,
  open: (n: number) => Promise<CounterMachine>,
  adds: readonly number[],
): Promise<{ machines: [CounterMachine, CounterMachine, CounterMachine]; acked: number[] }> {
  const machines: [CounterMachine, CounterMachine, CounterMachine] = [
    await open(1),
    await open(2),
    await open(3),
  ];
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
  const acked: number[] = [];
  for (const v of adds) sendRecorded(machines[0], v, acked);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  await Promise.all(machines.map((m) => m.flush()));
  expect(acked).toEqual(adds);
  return { machines, acked };
}

/**
 * The end of a fork schedule (safety.test, proof-on-disk.test): node 1 dies (its disks too), replicas 2 and
 * 3 come back from their data directories and take a write, node 1 comes back and its replica
 * opens from its own; then every replica is ready on one state that holds every acknowledged
 * write.
 */
export async function expectOneHistoryAfterRestarts(
  cluster: MemoryCluster,
  open: (n: number) => Promise<CounterMachine>,
  acked: number[],
  seed: number,
): Promise<void> {
  killNode(cluster, 1);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  const [b2, c2] = [await open(2), await open(3)];
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
  sendRecorded(b2, 100, acked);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
  cluster.restartNode(1);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
  const a2 = await open(1);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
  const all = [a2, b2, c2];
  expect(all.map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
  expect(new Set(all.map((m) => m.digest())).size).toBe(1);
  for (const v of acked) expect(a2.state.log, `seed ${seed}: acknowledged ${v}`).toContain(v);
  for (const m of all) await m.close();
}
