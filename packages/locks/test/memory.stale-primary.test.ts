/**
 * A replica that missed grants (it sat in a minority) can end up alone in the next quorate
 * ring: node 2 runs no member, node 3's member was cut off while node 1's member granted, then
 * node 1 is cut off. The component {2, 3} is quorate by votes, and its only member holds the
 * older state. Found by the fault schedules; the clock token scheme keeps tokens increasing
 * through it (see the README, "Where the guarantees end").
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine } from '@cpgkit/statemachine';
import { Locks, locksMachine } from '../src/index.js';

describe('a stale replica alone in the next quorate ring', () => {
  it('still issues a token above every token issued before (clock tokens)', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 1 });
    const def = locksMachine();
    const open = async (n: number) =>
      new Locks(
        await ReplicatedStateMachine.open(cluster.transport(n), def, { syncTimeout: 500 }),
        { closeMachine: true },
      );
    const [one, two, three] = [await open(1), await open(2), await open(3)];
    await cluster.settle({ advanceTime: true, maxTime: 5000 });
    cluster.crashProcess(two.machine.self);
    cluster.partition([3]);
    await cluster.settle({ advanceTime: true, maxTime: 5000 });
    const first = await one.acquire('a', { timeout: 5000 });
    const queued = one.acquire('a').catch(() => undefined);
    const fromThree = three.acquire('a');
    await cluster.advance(1);
    cluster.heal();
    cluster.partition([1]);
    await cluster.settle({ advanceTime: true, maxTime: 10_000 });
    expect(first.lost).toBe(true);
    const second = await fromThree;
    expect(second.token).toBeGreaterThan(first.token);
    cluster.heal();
    await cluster.settle({ advanceTime: true, maxTime: 10_000 });
    await second.release();
    await queued;
    await one.close();
    await three.close();
    cluster.destroy();
  });
});
