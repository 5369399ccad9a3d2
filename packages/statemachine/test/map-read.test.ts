/**
 * Linearizable reads of `ReplicatedMap` (a read barrier through the agreed order) against the
 * local, possibly stale, reads.
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { NoQuorumError, ReplicatedMap, type MapChange } from '../src/index.js';

async function openMaps(cluster: MemoryCluster, nodes: number[]): Promise<ReplicatedMap[]> {
  const maps: ReplicatedMap[] = [];
  for (const n of nodes)
    maps.push(await ReplicatedMap.open(cluster.member(n), { checkInterval: 0 }));
  await cluster.runUntilIdle();
  for (const m of maps) await m.ready();
  return maps;
}

/** Whether `p` settled by now (after the pending callbacks ran). */
async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('ReplicatedMap linearizable reads', () => {
  it('a read on a lagging replica waits for a write acknowledged on another node; the local read misses it', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 7 });
    const [a, , c] = (await openMaps(cluster, [1, 2, 3])) as [
      ReplicatedMap,
      ReplicatedMap,
      ReplicatedMap,
    ];
    const w0 = a.set('k', 'old');
    await cluster.runUntilIdle();
    await w0;
    // c stops (SIGSTOP): a and b are a majority of the three replicas, so a's write is acknowledged
    cluster.pause(c.machine.self);
    const w = a.set('k', 'new');
    await cluster.runUntilIdle();
    expect(await w).toBe(2);
    expect(c.get('k')).toBe('old'); // the local read: stale
    expect(await c.get('k', { consistency: 'stale' })).toBe('old');
    const read = c.get('k', { consistency: 'linearizable' });
    const list = c.list('', { consistency: 'linearizable' });
    await cluster.runUntilIdle();
    expect(await isSettled(read)).toBe(false); // its barrier is queued behind the write
    cluster.resume(c.machine.self);
    await cluster.runUntilIdle();
    expect(await read).toBe('new');
    expect((await list).map((i) => [i.key, i.value, i.revision])).toEqual([['k', 'new', 2]]);
  });

  it('reads the state at the barrier, not a later write applied here before the barrier was acknowledged', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 11 });
    const [a, b] = (await openMaps(cluster, [1, 2, 3])) as [ReplicatedMap, ReplicatedMap];
    const w0 = a.set('k', 1);
    await cluster.runUntilIdle();
    await w0;
    const read = a.entry('k', { consistency: 'linearizable' }); // its barrier is sent first...
    await new Promise((r) => setImmediate(r));
    const w = b.set('k', 2); // ...this write after it
    await cluster.runUntilIdle();
    expect(await w).toBe(2);
    expect(a.get('k')).toBe(2);
    const e = await read;
    expect(e?.value).toBe(1);
    expect(e?.revision).toBe(1);
  });

  it('is refused in a minority with NoQuorumError, as a write is; the local read still answers', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 13 });
    const [a, b, c] = (await openMaps(cluster, [1, 2, 3])) as [
      ReplicatedMap,
      ReplicatedMap,
      ReplicatedMap,
    ];
    const w0 = a.set('k', 'v');
    await cluster.runUntilIdle();
    await w0;
    cluster.partition([3], [1, 2]);
    await cluster.runUntilIdle();
    expect(c.status).toBe('minority');
    await expect(c.get('k', { consistency: 'linearizable' })).rejects.toBeInstanceOf(NoQuorumError);
    await expect(c.list('', { consistency: 'linearizable' })).rejects.toBeInstanceOf(NoQuorumError);
    await expect(c.sync()).rejects.toBeInstanceOf(NoQuorumError);
    await expect(c.set('k', 'w')).rejects.toBeInstanceOf(NoQuorumError);
    expect(c.get('k')).toBe('v');
    // the majority side reads (and writes) on
    const r = b.get('k', { consistency: 'linearizable' });
    await cluster.runUntilIdle();
    expect(await r).toBe('v');
    cluster.heal();
    await cluster.runUntilIdle();
    const r2 = c.get('k', { consistency: 'linearizable' });
    await cluster.runUntilIdle();
    expect(await r2).toBe('v');
  });

  it('a barrier changes nothing: no revision, no watch event', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 17 });
    const [a, b] = (await openMaps(cluster, [1, 2, 3])) as [ReplicatedMap, ReplicatedMap];
    const w0 = a.set('k', 'v');
    await cluster.runUntilIdle();
    await w0;
    const seen: MapChange[] = [];
    const it = b.watch('');
    void (async () => {
      for await (const ch of it) seen.push(ch);
    })();
    const s = a.sync();
    const r = b.get('k', { consistency: 'linearizable' });
    await cluster.runUntilIdle();
    expect(await s).toBe(1);
    expect(await r).toBe('v');
    expect(a.revision).toBe(1);
    expect(b.revision).toBe(1);
    expect(b.list().map((i) => i.revision)).toEqual([1]);
    await it.return?.();
    expect(seen).toEqual([]);
  });
});
