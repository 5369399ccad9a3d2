/**
 * Locks on the embedded cluster of the main entry (`embeddedCluster()`, real time): a 200 ms
 * acquire timeout and a 100 ms lease run on the wall clock, with nobody calling `advance()`
 * (on `virtualTimeCluster` they would wait for it forever). Bounds are wide: the machine is
 * shared.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { embeddedCluster, TimeoutError, type MemoryCluster } from '@cpgkit/core';
import { Locks } from '../src/index.js';

describe('Locks on embeddedCluster (real time)', () => {
  let cluster: MemoryCluster;
  let locks: Locks[] = [];
  afterEach(async () => {
    for (const l of locks) await l.close();
    locks = [];
    cluster.destroy();
  });

  async function open(): Promise<Locks[]> {
    cluster = embeddedCluster({ nodes: 3 });
    locks = await Promise.all(
      cluster.nodeIds.map((n) => Locks.open(cluster.member(n), { groupName: 'embedded' })),
    );
    await Promise.all(locks.map((l) => l.machine.ready({ timeout: 10_000 })));
    return locks;
  }

  it('a 200 ms acquire timeout fires on the wall clock while another node holds the lock', async () => {
    const [a, b] = await open();
    const held = await a!.acquire('x', { timeout: 10_000 });
    const t0 = performance.now();
    await expect(b!.acquire('x', { timeout: 200 })).rejects.toBeInstanceOf(TimeoutError);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(5_000);
    await held.release();
  });

  it('a 100 ms lease expires by itself: the holder loses it, the next waiter gets it', async () => {
    const [a, b] = await open();
    const leased = await a!.acquire('y', { ttl: 100, timeout: 10_000 });
    const t0 = performance.now();
    const next = await b!.acquire('y', { timeout: 10_000 });
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(leased.signal.aborted).toBe(true);
    expect(next.token).toBeGreaterThan(leased.token);
    await next.release();
  });
});
