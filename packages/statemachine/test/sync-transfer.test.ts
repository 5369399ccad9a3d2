/**
 * A joiner receiving a large store on the in-memory cluster (wire version 6: the snapshot's
 * lines deflated, its chunks sent while the leader writes them, read and digested while they
 * arrive): it ends with the leader's state and digest, whatever the chunk size, with writes
 * going on during the transfer; the store's leaves that come whole in a line are read as
 * `SortedRecord`s (record-text.ts).
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedMap, SortedRecord } from '../src/index.js';
import { pathOf } from '../src/map/state.js';

async function load(map: ReplicatedMap, keys: number, value: (i: number) => string): Promise<void> {
  for (let at = 0; at < keys; at += 5000) {
    const ops = [];
    for (let i = at; i < Math.min(keys, at + 5000); i++)
      ops.push({ op: 'set' as const, key: `k/${i}`, value: value(i) });
    await map.transaction([], ops);
  }
}

/** 400 keys whose leaves all sit under one level-2 node: each leaf of it is a snapshot line. */
function crowded(): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < 400; i++) {
    const p = pathOf(`c/${i}`);
    if (p[0] === '3' && p[1] === 'e') out.push(`c/${i}`);
  }
  return out;
}

describe('sync: a joiner receives a large store', () => {
  for (const chunk of [4096, 512 * 1024])
    it(`ends with the leader's state and digest (chunks of ${chunk} bytes, writes meanwhile)`, async () => {
      const cluster = new MemoryCluster({ nodes: 3, seed: 7 });
      const logs: string[] = [];
      const open = (n: number, bootstrap: boolean): Promise<ReplicatedMap> =>
        ReplicatedMap.open(cluster.member(n), {
          groupName: 'kv',
          checkInterval: 0,
          maxChunkSize: chunk,
          bootstrap: bootstrap ? 'alone' : false,
          log: (l) => logs.push(`${n}: ${l}`),
        });
      const a = await open(1, true);
      const b = await open(2, true);
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 2000 });
      const done = load(a, 30_000, (i) => `value ${i} ${'é'.repeat(i % 7)}`).then(() =>
        a.transaction(
          [],
          crowded().map((key) => ({ op: 'set' as const, key, value: { at: key } })),
        ),
      );
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 60_000 });
      await done;
      const joiner = await open(3, false);
      // writes while the snapshot is written, sent and read
      const writes = Array.from({ length: 20 }, (_, i) => a.set(`during/${i}`, i));
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 60_000 });
      await Promise.allSettled(writes);
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
      expect([a.status, b.status, joiner.status]).toEqual(['ready', 'ready', 'ready']);
      expect(joiner.size).toBe(a.size);
      expect(joiner.get('k/29999')).toBe(`value 29999 ${'é'.repeat(29999 % 7)}`);
      expect(new Set([a, b, joiner].map((m) => m.machine.digest())).size).toBe(1);
      // the leaves that came as lines of their own were read as records (record-text.ts)
      const level = joiner.machine.state.tree['3']!['e']!;
      expect(Object.values(level).every((leaf) => leaf instanceof SortedRecord)).toBe(true);
      expect(joiner.get(crowded()[0]!)).toEqual({ at: crowded()[0] });
      const sent = logs.filter((l) => l.startsWith('1: sent snapshot') && !l.includes(' 0 bytes'));
      expect(sent.length).toBeGreaterThan(0);
      if (chunk === 4096) expect(sent.some((l) => !/ in 1 chunks/.test(l))).toBe(true);
      expect(logs.filter((l) => l.includes('unusable') || l.includes('mismatch'))).toEqual([]);
      for (const m of [a, b, joiner]) await m.close();
      cluster.destroy();
    }, 120_000);
});
