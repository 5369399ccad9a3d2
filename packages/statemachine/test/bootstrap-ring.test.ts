/**
 * A replica without state starts a new store only once every node of the ring has a long-lived
 * member that said it holds none. The schedule the Jepsen upgrade campaign found (seed 9089): a
 * node's disk is replaced while the other replicas are down; its replica is the first one up in
 * a node-quorate ring. Before, it started an empty store on its own, granted and acknowledged on
 * it, and when the others came back one of the two histories was lost (here the real one).
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine, type OpenOptions } from '../src/index.js';
import { counter, write, type Counter, type CounterCmd } from './helpers.js';

type SM = ReplicatedStateMachine<Counter, CounterCmd, number>;
let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cpgkit-sm-boot-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Three replicas with data directories, a write acknowledged, every replica killed. */
async function outage(
  cluster: MemoryCluster,
): Promise<(n: number, o?: OpenOptions) => Promise<SM>> {
  const open = (n: number, o: OpenOptions = {}): Promise<SM> =>
    ReplicatedStateMachine.open(cluster.member(n), counter, {
      checkInterval: 0,
      dataDir: join(dir, `d${n}`),
      ...o,
    });
  const ms = [await open(1), await open(2), await open(3)];
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 2000 });
  expect(ms.map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
  expect(await write(cluster, ms[0]!, 7)).toBe(7);
  for (const m of ms) await m.flush();
  for (const m of ms) cluster.crashProcess(m.self);
  await cluster.runUntilIdle({ advanceTime: true, maxTime: 2000 });
  for (const m of ms) await m.close();
  return open;
}

describe('a new store needs a replica on every node of the ring', () => {
  it('a replica on a replaced disk, first up after an outage, waits for the others and takes their state', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 41 });
    const open = await outage(cluster);
    await rm(join(dir, 'd3'), { recursive: true, force: true }); // node 3's disk replaced
    const c = await open(3);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    expect(c.status).toBe('syncing'); // nodes 1 and 2 have no replica here: no new store
    expect(c.holdsState).toBe(false);
    const a = await open(1);
    const b = await open(2);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    expect([a, b, c].map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
    expect(c.state.log).toEqual([7]); // the acknowledged write, not a fork's empty store
    for (const m of [a, b, c]) await m.close();
    cluster.destroy();
  });

  it("with 'alone' the same replica starts a fork, and one history is lost (what the default prevents)", async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 41 });
    const open = await outage(cluster);
    await rm(join(dir, 'd3'), { recursive: true, force: true });
    const c = await open(3, { bootstrap: 'alone' });
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    expect(c.status).toBe('ready');
    expect(await write(cluster, c, 100)).toBe(100); // acknowledged on the fork
    const a = await open(1);
    const b = await open(2);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    // two histories, each with an acknowledged write, and one store: one of them is lost. Here
    // the fork leads the round (its epoch is as high, its index higher) and write 7, which a
    // majority of the real replica set acknowledged, is gone from every replica
    expect([a, b, c].map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
    for (const m of [a, b, c]) expect(m.state.log).toEqual([100]);
    for (const m of [a, b, c]) await m.close();
    cluster.destroy();
  });

  it('a brand-new cluster starts once a replica on every node is up, opened one at a time', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 42 });
    const ms: SM[] = [];
    for (const n of [1, 2, 3]) {
      expect(ms.every((m) => m.status === 'syncing')).toBe(true);
      ms.push(await ReplicatedStateMachine.open(cluster.member(n), counter, { checkInterval: 0 }));
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 2000 });
    }
    expect(ms.map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
    expect(await write(cluster, ms[1]!, 3)).toBe(3);
    for (const m of ms) await m.close();
    cluster.destroy();
  });

  it('a replica on a replaced disk cut off into a ring of its own node does not start a store before its quorum view of that ring comes (seed 9050)', async () => {
    // Corosync does not order quorum notifications with CPG's callbacks: for 20 ms after the
    // split, node 3's latest quorum view is the previous ring's, which said quorate. Its ring
    // is node 3 alone, and node 3 has a fresh replica: the ring rule is met. Before, the
    // replica started a store in that window, on a node that was in a minority.
    const cluster = new MemoryCluster({ nodes: 3, seed: 43, quorumDelay: 20 });
    const open = await outage(cluster);
    await rm(join(dir, 'd3'), { recursive: true, force: true });
    const c = await open(3);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 2000 });
    expect(c.status).toBe('syncing'); // nodes 1 and 2 have no replica here
    const statuses: string[] = [];
    c.on('status', (e) => statuses.push(e.status));
    cluster.partition([1, 2], [3]);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    expect(c.holdsState).toBe(false);
    expect(statuses).not.toContain('ready');
    cluster.heal();
    const a = await open(1);
    const b = await open(2);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    expect([a, b, c].map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
    for (const m of [a, b, c]) expect(m.state.log).toEqual([7]);
    for (const m of [a, b, c]) await m.close();
    cluster.destroy();
  });
});
