/**
 * The store limits (`MapLimits.maxKeys`, `maxStoreBytes`): a write past one is refused with
 * `StoreFullError` by both reducers and by every replica, nothing written; the defaults hold
 * a million keys of the benchmark's size (checked on a store that says it holds them, not by
 * writing a million keys).
 */
import { describe, expect, it } from 'vitest';
import { produce, type Draft } from 'immer';
import { MemoryCluster } from '@cpgkit/core/testing';
import { isNotApplied } from '@cpgkit/core';
import {
  DEFAULT_LIMITS,
  ReplicatedMap,
  StoreFullError,
  type MapCommand,
  type MapLimits,
  type MapState,
} from '../src/index.js';
import { applyTxn, emptyMap } from '../src/map/state.js';
import { reduceTxn } from '../src/map/reduce-txn.js';

const set = (key: string, value = 'v'): MapCommand => ({
  compares: [],
  ops: [{ op: 'set', key, value }],
});

/** The command through both reducers: the same next state or the same error from each. */
function both(state: MapState, cmd: MapCommand, limits: MapLimits): MapState {
  let viaImmer: MapState | Error;
  try {
    viaImmer = produce(state, (d: Draft<MapState>) => void applyTxn(d, cmd, limits));
  } catch (e) {
    viaImmer = e as Error;
  }
  let viaReduce: MapState | Error;
  try {
    viaReduce = reduceTxn(state, cmd, limits).state;
  } catch (e) {
    viaReduce = e as Error;
  }
  if (viaImmer instanceof Error || viaReduce instanceof Error) {
    expect(viaReduce).toBeInstanceOf(Error);
    expect(viaImmer).toBeInstanceOf(Error);
    expect((viaReduce as Error).name).toBe((viaImmer as Error).name);
    throw viaReduce as Error;
  }
  // as JSON: reduceTxn's leaves are `SortedRecord`s, applyTxn's plain objects
  expect(JSON.parse(JSON.stringify(viaReduce))).toEqual(JSON.parse(JSON.stringify(viaImmer)));
  return viaReduce;
}

describe('store limits', () => {
  const limits: MapLimits = { ...DEFAULT_LIMITS, maxKeys: 3, maxStoreBytes: 1000 };

  it('maxKeys: a new key past the limit is refused; overwrites and deletes still work', () => {
    let s = emptyMap();
    for (const k of ['a', 'b', 'c']) s = both(s, set(k), limits);
    expect(s.count).toBe(3);
    expect(() => both(s, set('d'), limits)).toThrow(StoreFullError);
    expect(() => both(s, set('d'), limits)).toThrow(/4 keys, over its limit of 3 keys \(maxKeys\)/);
    // at the limit: an existing key can be set again
    s = both(s, set('a', 'again'), limits);
    expect(s.count).toBe(3);
    // a transaction that deletes one key and adds another stays at the limit
    s = both(
      s,
      {
        compares: [],
        ops: [
          { op: 'delete', key: 'b' },
          { op: 'set', key: 'd', value: 'v' },
        ],
      },
      limits,
    );
    expect(s.count).toBe(3);
    // all or nothing: two new keys where one fits
    const before = s;
    s = both(s, { compares: [], ops: [{ op: 'delete', key: 'c' }] }, limits);
    expect(() =>
      both(
        s,
        {
          compares: [],
          ops: [
            { op: 'set', key: 'x', value: 1 },
            { op: 'set', key: 'y', value: 2 },
          ],
        },
        limits,
      ),
    ).toThrow(StoreFullError);
    expect(s.count).toBe(2);
    expect(before.count).toBe(3);
  });

  it('maxStoreBytes: a write past it is refused with StoreFullError', () => {
    const s = both(emptyMap(), set('k', 'x'.repeat(900)), limits);
    expect(s.bytes).toBe(1 + 902);
    expect(() => both(s, set('l', 'x'.repeat(100)), limits)).toThrow(
      /over its limit of 1000 bytes \(maxStoreBytes\)/,
    );
    // replacing the big value by a smaller one frees room
    const smaller = both(s, set('k', 'x'), limits);
    expect(both(smaller, set('l', 'x'.repeat(100)), limits).count).toBe(2);
  });

  it('the defaults hold a million keys of the benchmark size (9-byte key, 64-byte value)', () => {
    // a store that already holds 999,999 such keys (its figures; the tree need not hold them)
    const full: MapState = { ...emptyMap(), count: 999_999, bytes: 999_999 * 75 };
    const s = both(full, set('r/1000000', 'v'.repeat(64)), DEFAULT_LIMITS);
    expect(s.count).toBe(1_000_000);
    expect(DEFAULT_LIMITS.maxKeys).toBeGreaterThanOrEqual(1_000_000);
  });

  it('every replica refuses the write, the sender gets StoreFullError (not applied), and a delete makes room', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 11 });
    const maps: ReplicatedMap[] = [];
    for (const n of [1, 2, 3])
      maps.push(
        await ReplicatedMap.open(cluster.member(n), { checkInterval: 0, limits: { maxKeys: 2 } }),
      );
    await cluster.runUntilIdle();
    const [a, b, c] = maps as [ReplicatedMap, ReplicatedMap, ReplicatedMap];
    const writes = [a.set('k1', 1), b.set('k2', 2)];
    await cluster.runUntilIdle();
    await Promise.all(writes);
    const third = c.set('k3', 3).catch((e: unknown) => e);
    await cluster.runUntilIdle();
    const e = await third;
    expect(e).toBeInstanceOf(StoreFullError);
    expect(e).toMatchObject({ name: 'StoreFullError', code: 'CPGKIT_STORE_FULL' });
    expect(isNotApplied(e)).toBe(true);
    expect(maps.map((m) => m.size)).toEqual([2, 2, 2]);
    expect(maps.map((m) => m.has('k3'))).toEqual([false, false, false]);
    expect(new Set(maps.map((m) => m.machine.digest())).size).toBe(1);
    const del = a.delete('k1');
    await cluster.runUntilIdle();
    await del;
    const again = c.set('k3', 3);
    await cluster.runUntilIdle();
    await again;
    expect(maps.map((m) => m.get('k3'))).toEqual([3, 3, 3]);
    for (const m of maps) await m.close();
    cluster.destroy();
  });
});
