/** A dispatch that waits with a `timeout` alone (timed-dispatch.ts), as a lock's release does. */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { TimeoutError } from '@cpgkit/core';
import { MachineClosedError } from '../src/index.js';
import { counter, openAll } from './helpers.js';

describe('dispatch with a timeout and no signal', () => {
  it('resolves with its result as before, and nothing of it fires later', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 21 });
    const ms = await openAll(cluster, [1, 2, 3], counter);
    const ok = ms[0]!.dispatch({ add: 2 }, { timeout: 1000 });
    await cluster.runUntilIdle();
    expect(await ok).toBe(2);
    await cluster.advance(5000);
    expect(
      await ms[1]!.dispatch({ add: 1 }, { timeout: 1000 }).then(undefined, (e: unknown) => e),
    ).toBe(3);
    for (const m of ms) await m.close();
    cluster.destroy();
  });

  it('rejects with TimeoutError when no majority acknowledges it in time, and stops waiting', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 22 });
    const ms = await openAll(cluster, [1, 2, 3], counter);
    cluster.pause(ms[1]!.self);
    cluster.pause(ms[2]!.self);
    const late = ms[0]!.dispatch({ add: 1 }, { timeout: 300 }).then(undefined, (e: unknown) => e);
    await cluster.advance(299);
    let settled = false;
    void late.then(() => (settled = true));
    await cluster.advance(0);
    expect(settled).toBe(false);
    await cluster.advance(2);
    const err = await late;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('dispatch: timed out after 300 ms');
    // it no longer waits: the acks that come once the others resume settle nothing twice
    cluster.resume(ms[1]!.self);
    cluster.resume(ms[2]!.self);
    await cluster.runUntilIdle();
    expect(ms.map((m) => m.state.n)).toEqual([1, 1, 1]);
    expect(await ms[0]!.dispatch({ add: 1 }, { timeout: 300 })).toBe(2);
    for (const m of ms) await m.close();
    cluster.destroy();
  });

  it('rejects with MachineClosedError when the machine closes first', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 23 });
    const ms = await openAll(cluster, [1, 2, 3], counter);
    cluster.pause(ms[1]!.self);
    cluster.pause(ms[2]!.self);
    const p = ms[0]!.dispatch({ add: 1 }, { timeout: 10_000 }).then(undefined, (e: unknown) => e);
    await cluster.runUntilIdle();
    await ms[0]!.close();
    expect(await p).toBeInstanceOf(MachineClosedError);
    cluster.destroy();
  });
});
