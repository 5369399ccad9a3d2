import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { enablePatches, Immer, type Draft, type Patch } from 'immer';
import { canonicalJson } from '../src/canonical.js';
import {
  applyTxn,
  DEFAULT_LIMITS,
  emptyMap,
  type MapCommand,
  type MapLimits,
  type MapState,
} from '../src/map/state.js';
import { reduceTxn } from '../src/map/reduce-txn.js';

enablePatches();
const immer = new Immer({ autoFreeze: false });

const key = fc.oneof(
  fc.constantFrom('a', 'b', 'a/b', 'a/c', 'z'),
  fc.string({ minLength: 1, maxLength: 3 }),
);
const op = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key, value: fc.oneof(fc.integer(), fc.string()) }),
  fc.record({ op: fc.constant('delete' as const), key }),
);
const command = fc.record({
  compares: fc.array(fc.record({ key, exists: fc.boolean() }), { maxLength: 1 }),
  ops: fc.array(op, { maxLength: 6 }),
});

/** `applyTxn` through immer, as the machine runs `apply`: outcome and next state. */
function viaImmer(s: MapState, c: MapCommand, limits: MapLimits): [MapState, unknown] {
  try {
    let result: unknown;
    const next = immer.produce(s, (d: Draft<MapState>) => {
      result = applyTxn(d, c, limits);
    });
    return [next, result];
  } catch (e) {
    return [s, (e as Error).name];
  }
}

describe('reduceTxn (the store without immer)', () => {
  it('gives the same results and states as applyTxn, and patches that replay to the same state', () => {
    const limits: MapLimits = { ...DEFAULT_LIMITS, maxStoreBytes: 120 };
    fc.assert(
      fc.property(fc.array(command, { maxLength: 30 }), (cmds) => {
        let a = emptyMap();
        let b = emptyMap();
        let replayed = emptyMap();
        for (const c of cmds) {
          const [na, ra] = viaImmer(a, c, limits);
          const patches: Patch[] = [];
          let rb: unknown;
          const before = canonicalJson(b);
          try {
            const r = reduceTxn(b, c, limits, patches);
            b = r.state;
            rb = r.result;
          } catch (e) {
            rb = (e as Error).name;
            patches.length = 0;
          }
          // the state it started from is untouched
          expect(canonicalJson(a)).toBe(before);
          a = na;
          expect(rb).toEqual(ra);
          expect(canonicalJson(b)).toBe(canonicalJson(a));
          replayed = immer.applyPatches(replayed, patches);
          expect(canonicalJson(replayed)).toBe(canonicalJson(b));
        }
      }),
      { seed: 15, numRuns: 300 },
    );
  });

  it('leaves the previous state as it was (shares, never modifies)', () => {
    const s1 = reduceTxn(
      emptyMap(),
      { compares: [], ops: [{ op: 'set', key: 'k', value: 1 }] },
      DEFAULT_LIMITS,
    ).state;
    const json = canonicalJson(s1);
    const s2 = reduceTxn(
      s1,
      {
        compares: [],
        ops: [
          { op: 'set', key: 'k', value: 2 },
          { op: 'delete', key: 'k' },
        ],
      },
      DEFAULT_LIMITS,
    ).state;
    expect(canonicalJson(s1)).toBe(json);
    expect(s2.count).toBe(0);
    expect(s2.tree).toEqual({});
  });
});
