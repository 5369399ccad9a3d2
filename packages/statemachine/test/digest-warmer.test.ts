/**
 * The background digest (digest-warmer.ts): once a replica's state has stayed the same for a
 * moment after a bulk write, its digest's cache is full, so the next summary (a member
 * joining) costs nothing; a state that keeps changing is not digested meanwhile.
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { warmDigest } from '../src/canonical.js';
import { ReplicatedMap, type MapOp } from '../src/index.js';

const realWait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('digest-warmer.ts', () => {
  it('fills the digest cache of a state written in bulk once it stays the same', async () => {
    const cluster = new MemoryCluster({ nodes: 1, seed: 5 });
    const kv = await ReplicatedMap.open(cluster.member(1), { groupName: 'w', checkInterval: 0 });
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 5_000 });
    const ops: MapOp[] = Array.from({ length: 5000 }, (_, i) => ({
      op: 'set',
      key: `k${i}`,
      value: i,
    }));
    const done = kv.transaction([], ops);
    await cluster.runUntilIdle();
    await done;
    const state = kv.machine.state;
    // not digested yet: a deadline already past stops after the first of its 17 large nodes
    // (each call digests one more, so the test itself calls it only once before and once after)
    expect(warmDigest(state, 0)).toBe(false);
    // the warmer looks every 100 ms (real time) and fills the cache once the state stays put
    await realWait(2_000);
    expect(warmDigest(state, 0)).toBe(true);
    await kv.close();
    cluster.destroy();
  });
});
