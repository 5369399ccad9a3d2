/**
 * The basic flock case with only two participants: the holder's process dies (`procdown`) and
 * the waiter takes over. The state machine removes a dead replica from its replica set `Q` at
 * the confchg, so the survivor is a majority of `Q` on its own.
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine } from '@cpgkit/statemachine';
import { AlreadyHeldError, Locks, locksMachine } from '../src/index.js';
import { lockOf } from '../src/lock-table.js';

async function pair(nodes: [number, number], seed: number) {
  const cluster = new MemoryCluster({ nodes: 3, seed });
  const def = locksMachine();
  const machines = [];
  for (const n of nodes)
    machines.push(
      // a brand-new cluster this test made, not a replica on every node: 'alone'
      await ReplicatedStateMachine.open(cluster.member(n), def, { bootstrap: 'alone' }),
    );
  await cluster.runUntilIdle();
  const locks = machines.map((m) => new Locks(m, { closeMachine: true }));
  return { cluster, machines, locks: locks as [Locks, Locks] };
}

describe('two participants on the in-memory cluster', () => {
  for (const [label, nodes] of [
    ['on two nodes', [1, 2]],
    ['on one node', [1, 1]],
  ] as const) {
    it(`the holder is killed (procdown), the waiter is granted with a higher token (${label})`, async () => {
      const { cluster, machines, locks } = await pair([...nodes], 31);
      const [holder, waiter] = locks;
      expect(machines.map((m) => m.status)).toEqual(['ready', 'ready']);
      const a = await holder.acquire('m');
      const pb = waiter.acquire('m');
      await cluster.runUntilIdle();
      await expect(waiter.tryAcquire('m')).rejects.toBeInstanceOf(AlreadyHeldError);
      cluster.crashProcess(machines[0]!.self);
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
      expect(a.signal.aborted).toBe(true);
      expect(machines[1]!.status).toBe('ready');
      expect(machines[1]!.replicas).toEqual([machines[1]!.replicaId]);
      const b = await pb;
      expect(b.token).toBeGreaterThan(a.token);
      await b.release();
      await cluster.runUntilIdle();
      expect(lockOf(machines[1]!.state.locks, 'm')?.holders ?? []).toEqual([]);
      await waiter.close();
      cluster.destroy();
    });
  }

  it('the waiter is killed: the holder keeps its lock and can release it', async () => {
    const { cluster, machines, locks } = await pair([1, 2], 32);
    const [holder, waiter] = locks;
    const a = await holder.acquire('m');
    void waiter.acquire('m').catch(() => undefined);
    await cluster.runUntilIdle();
    cluster.crashProcess(machines[1]!.self);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
    expect(a.signal.aborted).toBe(false);
    expect(machines[0]!.status).toBe('ready');
    await a.release();
    await cluster.runUntilIdle();
    const again = await holder.acquire('m');
    expect(again.token).toBeGreaterThan(a.token);
    await holder.close();
    cluster.destroy();
  });
});

describe('observe()', () => {
  it('ends when the client closes, also when closing changes nothing it would hand out', async () => {
    const { cluster, locks } = await pair([1, 2], 33);
    const seen = locks[0].observe('nobody-campaigns');
    const infos: { stale: boolean }[] = [];
    const rest = (async () => {
      for (;;) {
        const r = await seen.next();
        if (r.done) return 'ended';
        infos.push(r.value);
      }
    })();
    await cluster.runUntilIdle();
    cluster.partition([1], [2, 3]); // node 1 alone: its view goes stale before we close
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 2000 });
    expect(infos.at(-1)?.stale).toBe(true);
    await locks[0].close();
    await cluster.runUntilIdle();
    const outcome = await Promise.race([
      rest,
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2000)),
    ]);
    expect(outcome).toBe('ended');
    await locks[1].close();
    cluster.destroy();
  });
});
