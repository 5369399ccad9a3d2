/**
 * A member of the replica set `Q` whose process is gone for good (`procdown`: killed while its
 * node stays in the ring; `leave`) is removed from `Q` at the confchg of a quorate component,
 * so two replicas survive the death of one; a `nodedown` (crash or partition) keeps it in `Q`.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InterruptedError } from '@cpgkit/core';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine } from '../src/index.js';
import { SnapshotStore } from '../src/persistence.js';
import { counter, openAll, write, type Counter, type CounterCmd } from './helpers.js';

type SM = ReplicatedStateMachine<Counter, CounterCmd, number>;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cpgkit-sm-departure-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a replica whose process died leaves Q', () => {
  it('two replicas: kill -9 of one, the other goes on with every acknowledged write', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 21 });
    const [a, b] = (await openAll(cluster, [1, 2], counter)) as [SM, SM];
    expect(a.replicas).toEqual([a.replicaId, b.replicaId].sort());
    const acked: number[] = [];
    for (const v of [1, 2, 3]) {
      await write(cluster, v % 2 === 0 ? a : b, v);
      acked.push(v);
    }
    // writes in flight when the process dies: acknowledged or not, never half
    const inflight = Promise.allSettled([a.dispatch({ add: 10 }), b.dispatch({ add: 20 })]);
    cluster.crashProcess(b.self);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    const outcomes = await inflight;
    expect(a.status).toBe('ready');
    expect(a.replicas).toEqual([a.replicaId]);
    if (outcomes[0].status === 'fulfilled') acked.push(10);
    expect(await write(cluster, a, 4)).toBe(a.state.n);
    acked.push(4);
    for (const v of acked) expect(a.state.log).toContain(v);
    await a.close();
    cluster.destroy();
  });

  it('three replicas: two killed one after the other, the last one goes on', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 22 });
    const [a, b, c] = (await openAll(cluster, [1, 2, 3], counter)) as [SM, SM, SM];
    await write(cluster, c, 1);
    cluster.crashProcess(c.self);
    await cluster.runUntilIdle();
    expect([a.status, b.status]).toEqual(['ready', 'ready']);
    expect(a.replicas).toEqual([a.replicaId, b.replicaId].sort());
    await write(cluster, b, 2);
    cluster.crashProcess(b.self);
    await cluster.runUntilIdle();
    expect(a.status).toBe('ready');
    expect(a.replicas).toEqual([a.replicaId]);
    expect(await write(cluster, a, 3)).toBe(6);
    expect(a.state.log).toEqual([1, 2, 3]);
    await a.close();
    cluster.destroy();
  });

  it('the last member of Q is never removed: a passive survivor does not take over', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 23 });
    const [a] = (await openAll(cluster, [1], counter)) as [SM];
    await write(cluster, a, 1);
    const p = await ReplicatedStateMachine.open(cluster.member(2), counter, {
      checkInterval: 0,
      passive: true,
    });
    await cluster.runUntilIdle();
    expect(p.status).toBe('ready');
    expect(p.replicas).toEqual([a.replicaId]);
    cluster.crashProcess(a.self);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    expect(p.replicas).toEqual([a.replicaId]);
    expect(p.status).toBe('minority');
    await p.close();
    cluster.destroy();
  });

  it('a nodedown keeps the member in Q: two replicas, one node crashes, the other stays minority', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 24 });
    const [a, b] = (await openAll(cluster, [1, 2], counter)) as [SM, SM];
    await write(cluster, a, 1);
    cluster.crashNode(2);
    await cluster.runUntilIdle();
    cluster.restartNode(2);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    expect(cluster.isQuorate(1)).toBe(true);
    expect(a.status).toBe('minority');
    expect(a.replicas).toEqual([a.replicaId, b.replicaId].sort());
    await a.close();
    cluster.destroy();
  });

  it('a partition keeps the cut-off member in Q on both sides', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 25 });
    const [a, b] = (await openAll(cluster, [1, 2], counter)) as [SM, SM];
    await write(cluster, a, 1);
    cluster.partition([1, 3], [2]);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    expect([a.status, b.status]).toEqual(['minority', 'minority']);
    expect(a.replicas).toHaveLength(2);
    expect(b.replicas).toHaveLength(2);
    cluster.heal();
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    expect([a.status, b.status]).toEqual(['ready', 'ready']);
    expect(await write(cluster, b, 2)).toBe(3);
    await a.close();
    await b.close();
    cluster.destroy();
  });

  it('a death during a sync round: the removal happens at the confchg, the queued command is dropped', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 26 });
    const [a, b] = (await openAll(cluster, [1, 2], counter, { syncTimeout: 1000 })) as [SM, SM];
    await write(cluster, a, 1);
    // a silent member (not a state machine) holds the next round open until its timeout; a
    // command sent right after its join is delivered in that round and queued
    const silent = cluster.member(3);
    const joined = silent.join('counter');
    for (let i = 0; i < 8; i++) await Promise.resolve();
    const queued = a.dispatch({ add: 5 });
    queued.catch(() => undefined);
    await joined;
    await cluster.runUntilIdle();
    expect(a.status).toBe('syncing');
    cluster.crashProcess(b.self);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
    await expect(queued).rejects.toBeInstanceOf(InterruptedError);
    expect(a.status).toBe('ready');
    expect(a.replicas).toEqual([a.replicaId]);
    expect(await write(cluster, a, 2)).toBe(3);
    await silent.leave();
    await a.close();
    cluster.destroy();
  });

  it('a smaller Q is on disk at once, not persistDelay later', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 29 });
    const open = (n: number): Promise<SM> =>
      ReplicatedStateMachine.open(cluster.member(n), counter, {
        bootstrap: 'alone',
        checkInterval: 0,
        dataDir: join(dir, `m${n}`),
      });
    const a = await open(1);
    const b = await open(2);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
    await write(cluster, a, 1);
    await a.flush();
    const store = new SnapshotStore(join(dir, 'm1'), counter.name);
    expect((await store.load())?.replicas).toHaveLength(2);
    cluster.crashProcess(b.self);
    await cluster.runUntilIdle(); // virtual time stands still: no persistDelay timer can fire
    expect(a.replicas).toEqual([a.replicaId]);
    let onDisk: readonly string[] | undefined;
    for (let i = 0; i < 100 && onDisk?.length !== 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      onDisk = (await store.load())?.replicas;
    }
    expect(onDisk).toEqual([a.replicaId]);
    await a.close();
    cluster.destroy();
  });

  it('a removed replica restarted from its data directory rejoins Q at the next quorate round', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 27 });
    const open = (n: number): Promise<SM> =>
      ReplicatedStateMachine.open(cluster.member(n), counter, {
        bootstrap: 'alone',
        checkInterval: 0,
        dataDir: join(dir, `m${n}`),
      });
    const a = await open(1);
    let b = await open(2);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
    const bid = b.replicaId;
    await write(cluster, b, 1);
    await b.flush();
    cluster.crashProcess(b.self);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
    expect(a.replicas).toEqual([a.replicaId]);
    expect(await write(cluster, a, 2)).toBe(3);
    b = await open(2);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
    expect(b.replicaId).toBe(bid);
    expect([a.status, b.status]).toEqual(['ready', 'ready']);
    expect(a.replicas).toEqual([a.replicaId, bid].sort());
    expect(b.state.log).toEqual([1, 2]);
    // and now a's death leaves b going on alone
    cluster.crashProcess(a.self);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
    expect(b.status).toBe('ready');
    expect(await write(cluster, b, 3)).toBe(6);
    await b.close();
    cluster.destroy();
  });
});
