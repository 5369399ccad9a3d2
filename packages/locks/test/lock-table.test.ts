import { describe, it, expect } from 'vitest';
import { Immer, enablePatches, type Draft, type Patch } from 'immer';
import { SortedRecord, canonicalJson } from '@cpgkit/statemachine';
import { locksMachine } from '../src/machine.js';
import { lockCount, lockList, lockNames, lockOf, withLock } from '../src/lock-table.js';
import { initialLocksState, type LockEntry, type LocksState } from '../src/state.js';

enablePatches();
const immer = new Immer({ autoFreeze: false });
const owner = (i: number) => ({ incarnation: `i${i}`, nodeid: i, pid: 1 });

/** A lock held by `i1` until 50 (lease) with a waiter of `i2`. */
function busy(): LockEntry {
  return {
    kind: 'mutex',
    limit: 1,
    token: '1',
    holders: [
      { id: 'h', owner: owner(1), mode: 'exclusive', token: '1', since: 0, ttl: 50, expires: 50 },
    ],
    waiters: [{ id: 'w', owner: owner(2), mode: 'exclusive', ttl: null, since: 1 }],
    blockedUntil: null,
  };
}

describe('lock table', () => {
  it('reads alike in both forms; withLock copies, never writes', () => {
    const plain: Record<string, LockEntry> = { b: busy(), a: busy() };
    const sorted = SortedRecord.from(plain);
    for (const t of [plain, sorted]) {
      expect(lockOf(t, 'a')).toBe(plain.a);
      expect(lockOf(t, 'constructor')).toBeUndefined();
      expect(lockCount(t)).toBe(2);
      expect(new Set(lockNames(t))).toEqual(new Set(['a', 'b']));
      expect(Object.fromEntries(lockList(t))).toEqual(plain);
    }
    const json = JSON.stringify(plain);
    const next = withLock(plain, 'c', busy());
    const gone = withLock(next, 'a', undefined);
    expect(JSON.stringify(plain)).toBe(json);
    expect(lockNames(next)).toEqual(['a', 'b', 'c']);
    expect(lockNames(gone)).toEqual(['b', 'c']);
    expect(canonicalJson({ locks: gone })).toBe(canonicalJson({ locks: { b: busy(), c: busy() } }));
  });

  it('a tick granting on several locks issues the same tokens from a plain record and a SortedRecord', () => {
    // integer-like names: a plain object lists them first, in numeric order ('9' before '10');
    // a SortedRecord in code unit order ('10' before '9'); ticks go in name order either way
    const names = ['b', '10', 'a', '9'];
    const locks: Record<string, LockEntry> = {};
    for (const n of names) locks[n] = busy();
    const plain: LocksState = { ...initialLocksState(), locks, issued: '1' };
    const sorted: LocksState = { ...plain, locks: SortedRecord.from(locks) };
    const def = locksMachine({ tokens: 'counter' });
    const tick = (s: LocksState): [LocksState, readonly Patch[]] => {
      const [next, patches] = immer.produceWithPatches(s, (d: Draft<LocksState>) =>
        def.onTick!(d, { time: 60, index: 2n, epoch: 1 }),
      );
      return [next, patches];
    };
    const [a, pa] = tick(plain);
    const [b, pb] = tick(sorted);
    expect(canonicalJson(b)).toBe(canonicalJson(a));
    expect(lockOf(a.locks, '10')!.token).toBe('2'); // name order: 10, 9, a, b
    expect(lockOf(a.locks, 'b')!.token).toBe('5');
    // the patches replay, as the journal reads them back, to the same state
    const replay = (s: LocksState, p: readonly Patch[]) =>
      immer.applyPatches(
        JSON.parse(JSON.stringify(s)) as LocksState,
        JSON.parse(JSON.stringify(p)) as Patch[],
      );
    expect(canonicalJson(replay(sorted, pb))).toBe(canonicalJson(a));
    expect(canonicalJson(replay(plain, pa))).toBe(canonicalJson(a));
    // the state given stays as it was
    expect(lockOf(sorted.locks, 'a')!.holders[0]!.id).toBe('h');
  });
});
