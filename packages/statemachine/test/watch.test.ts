import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { HistoryCompactedError, ReplicatedMap, type MapChange } from '../src/index.js';

async function openMaps(
  cluster: MemoryCluster,
  nodes: number[],
  historyLimit?: number,
): Promise<ReplicatedMap[]> {
  const maps: ReplicatedMap[] = [];
  for (const n of nodes)
    maps.push(
      await ReplicatedMap.open(cluster.member(n), {
        bootstrap: 'alone',
        checkInterval: 0,
        ...(historyLimit === undefined ? {} : { historyLimit }),
      }),
    );
  await cluster.runUntilIdle();
  return maps;
}

async function set(cluster: MemoryCluster, m: ReplicatedMap, key: string, value: number) {
  const p = m.set(key, value);
  await cluster.runUntilIdle();
  return p;
}

/** Everything the iterator has buffered now, then ends it. */
async function drain(it: AsyncIterableIterator<MapChange>): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const next = await Promise.race([
      it.next(),
      new Promise<'empty'>((r) => setImmediate(() => r('empty'))),
    ]);
    if (next === 'empty' || next.done === true) break;
    const c = next.value;
    out.push(
      `${c.type} ${c.key}${c.type === 'set' ? `=${JSON.stringify(c.value)}` : ''} @${c.revision}`,
    );
  }
  await it.return?.();
  return out;
}

describe('ReplicatedMap.watch({ fromRevision })', () => {
  it('replays the history from an old revision, then live changes, in order, without duplicates', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 41 });
    const [a, b] = (await openMaps(cluster, [1, 2, 3])) as [ReplicatedMap, ReplicatedMap];
    await set(cluster, a, 'x', 1); // 1
    await set(cluster, b, 'y', 2); // 2
    await set(cluster, a, 'x', 3); // 3
    const del = b.delete('y'); // 4
    await cluster.runUntilIdle();
    expect(await del).toBe(4);
    const all = b.watch('', { fromRevision: 2 });
    const onlyX = b.watch('x', { fromRevision: 1 });
    await set(cluster, a, 'x', 5); // 5
    await set(cluster, a, 'y', 6); // 6
    expect(await drain(all)).toEqual([
      'set y=2 @2',
      'set x=3 @3',
      'delete y @4',
      'set x=5 @5',
      'set y=6 @6',
    ]);
    expect(await drain(onlyX)).toEqual(['set x=1 @1', 'set x=3 @3', 'set x=5 @5']);
  });

  it('a revision above the current one skips the live changes below it', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 42 });
    const [a, b] = (await openMaps(cluster, [1, 2, 3])) as [ReplicatedMap, ReplicatedMap];
    await set(cluster, a, 'k', 1);
    await set(cluster, a, 'k', 2);
    expect(b.revision).toBe(2);
    const w = b.watch('', { fromRevision: 5 });
    const next = b.watch('', { fromRevision: 3 }); // the next revision: live changes only
    for (let v = 3; v <= 6; v++) await set(cluster, a, 'k', v);
    expect(await drain(w)).toEqual(['set k=5 @5', 'set k=6 @6']);
    expect(await drain(next)).toEqual(['set k=3 @3', 'set k=4 @4', 'set k=5 @5', 'set k=6 @6']);
  });

  it('HistoryCompactedError when the local history no longer reaches back that far', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 43 });
    const [a, b] = (await openMaps(cluster, [1, 2], 2)) as [ReplicatedMap, ReplicatedMap];
    for (let v = 1; v <= 4; v++) await set(cluster, a, 'k', v);
    // the history keeps the last 2 changes: revisions 3 and 4
    let err: unknown;
    try {
      b.watch('', { fromRevision: 2 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HistoryCompactedError);
    expect((err as HistoryCompactedError).oldest).toBe(3);
    const w = b.watch('', { fromRevision: 3 });
    await set(cluster, a, 'k', 5);
    expect(await drain(w)).toEqual(['set k=3 @3', 'set k=4 @4', 'set k=5 @5']);
    // a replica that joins later got a snapshot: no history before it
    const [c] = (await openMaps(cluster, [3])) as [ReplicatedMap];
    expect(c.revision).toBe(5);
    expect(() => c.watch('', { fromRevision: 5 })).toThrow(HistoryCompactedError);
    const fromNext = c.watch('', { fromRevision: 6 });
    await set(cluster, a, 'k', 6);
    expect(await drain(fromNext)).toEqual(['set k=6 @6']);
  });

  it('keeps exactly the last historyLimit changes over many writes (dropped in blocks)', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 44 });
    const [a, b] = (await openMaps(cluster, [1, 2], 3)) as [ReplicatedMap, ReplicatedMap];
    // past the block the history drops at once (64 items), and past it again
    for (let v = 1; v <= 150; v++) {
      void a.set('k', v);
      if (v % 10 === 0) await cluster.runUntilIdle();
      if (v === 67 || v === 130 || v === 150) {
        await cluster.runUntilIdle();
        expect(() => b.watch('', { fromRevision: v - 3 })).toThrow(HistoryCompactedError);
        expect(await drain(b.watch('', { fromRevision: v - 2 }))).toEqual([
          `set k=${v - 2} @${v - 2}`,
          `set k=${v - 1} @${v - 1}`,
          `set k=${v} @${v}`,
        ]);
      }
    }
  });

  it('values seen through watch, live or replayed, are deeply frozen (the store shares them)', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 45 });
    const [a, b] = (await openMaps(cluster, [1, 2])) as [ReplicatedMap, ReplicatedMap];
    // set while nobody watches: replayed from the history later
    const first = a.set('k', { deep: { n: 1 } });
    await cluster.runUntilIdle();
    await first;
    const replayed = (await b.watch('', { fromRevision: 1 }).next()).value as MapChange;
    const live = b.watch('j');
    const second = a.set('j', { deep: { n: 1 } });
    await cluster.runUntilIdle();
    await second;
    const seen = (await live.next()).value as MapChange;
    await live.return?.();
    for (const c of [seen, replayed]) {
      const v = c.value as { deep: { n: number } };
      expect(Object.isFrozen(v) && Object.isFrozen(v.deep)).toBe(true);
      expect(() => {
        v.deep.n = 2;
      }).toThrow(TypeError);
    }
    expect(b.get('k')).toEqual({ deep: { n: 1 } });
  });
});
