import { describe, it, expect } from 'vitest';
import { Immer, type Draft } from 'immer';
import { MemoryCluster } from '@cpgkit/core/testing';
import { CompareFailedError, ReplicatedMap } from '../src/index.js';
import {
  applyTxn,
  compareHolds,
  DEFAULT_LIMITS,
  emptyMap,
  type Json,
  type MapState,
} from '../src/map/state.js';

const immer = new Immer({ autoFreeze: false });

function storeWith(key: string, value: Json): MapState {
  return immer.produce(emptyMap(), (d: Draft<MapState>) => {
    applyTxn(d, { compares: [], ops: [{ op: 'set', key, value }] }, DEFAULT_LIMITS);
  });
}

describe('value compares (canonical JSON)', () => {
  it('equal values compare equal whatever the order of their object keys', () => {
    const s = storeWith('k', { b: 1, a: { y: [1, { q: 2, p: 1 }], x: null } });
    const holds = (value: Json): boolean => compareHolds(s, { key: 'k', value });
    expect(holds({ a: { x: null, y: [1, { p: 1, q: 2 }] }, b: 1 })).toBe(true);
    expect(holds({ b: 1, a: { y: [1, { q: 2, p: 1 }], x: null } })).toBe(true);
    // array order matters; so do values, types and missing keys
    expect(holds({ a: { x: null, y: [{ p: 1, q: 2 }, 1] }, b: 1 })).toBe(false);
    expect(holds({ a: { x: null, y: [1, { p: 1, q: 2 }] }, b: 2 })).toBe(false);
    expect(holds({ a: { x: null, y: [1, { p: 1, q: 2 }] }, b: '1' })).toBe(false);
    expect(holds({ a: { y: [1, { p: 1, q: 2 }] }, b: 1 })).toBe(false);
    expect(compareHolds(s, { key: 'absent', value: null })).toBe(false);
  });

  it('a transaction compares on a value written with its keys in another order', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 51 });
    const maps: ReplicatedMap[] = [];
    for (const n of [1, 2, 3])
      maps.push(await ReplicatedMap.open(cluster.member(n), { checkInterval: 0 }));
    await cluster.runUntilIdle();
    const [a, b] = maps as [ReplicatedMap, ReplicatedMap];
    const set = a.set('cfg', { port: 80, host: 'db1' });
    await cluster.runUntilIdle();
    expect(await set).toBe(1);
    const ok = b.transaction(
      [{ key: 'cfg', value: { host: 'db1', port: 80 } }],
      [{ op: 'set', key: 'cfg', value: { host: 'db2', port: 80 } }],
    );
    await cluster.runUntilIdle();
    expect(await ok).toBe(2);
    const stale = b
      .transaction(
        [{ key: 'cfg', value: { port: 80, host: 'db1' } }],
        [{ op: 'set', key: 'cfg', value: { host: 'db3', port: 80 } }],
      )
      .catch((e: unknown) => e);
    await cluster.runUntilIdle();
    expect(await stale).toBeInstanceOf(CompareFailedError);
    expect(maps.map((m) => m.get('cfg'))).toEqual([
      { host: 'db2', port: 80 },
      { host: 'db2', port: 80 },
      { host: 'db2', port: 80 },
    ]);
    expect(new Set(maps.map((m) => m.machine.digest())).size).toBe(1);
  });
});
