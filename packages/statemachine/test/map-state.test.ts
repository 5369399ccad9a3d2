import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Immer, type Draft } from 'immer';
import { canonicalJson } from '../src/canonical.js';
import { InvalidKeyError } from '../src/errors.js';
import {
  applyTxn,
  changedLeaves,
  DEFAULT_LIMITS,
  emptyMap,
  forEachEntry,
  getEntry,
  type MapEntry,
  type MapOp,
  type MapState,
} from '../src/map/state.js';

const immer = new Immer({ autoFreeze: false });

function run(state: MapState, ops: readonly MapOp[]): MapState {
  return immer.produce(state, (d: Draft<MapState>) => {
    applyTxn(d, { compares: [], ops }, DEFAULT_LIMITS);
  });
}

/** Keys from a small alphabet, so that sets, overwrites and deletes hit the same keys. */
const key = fc.oneof(
  fc.constantFrom('a', 'b', 'a/b', 'a/c', 'z', ''),
  fc.string({ minLength: 1, maxLength: 4 }),
);
const op: fc.Arbitrary<MapOp> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key, value: fc.integer() }),
  fc.record({ op: fc.constant('delete' as const), key }),
);

/** The tree with every entry replaced by its value (revisions depend on history). */
function shape(state: MapState): unknown {
  const map = (node: Record<string, unknown>, depth: number): unknown =>
    Object.fromEntries(
      Object.entries(node).map(([k, v]) => [
        k,
        depth === 3 ? (v as MapEntry).value : map(v as Record<string, unknown>, depth + 1),
      ]),
    );
  return map(state.tree, 0);
}

describe('map state (16×16×16 tree)', () => {
  it('matches a Map model, and equal contents give equal canonical JSON whatever the history', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { maxLength: 60 }),
        (txns) => {
          let state = emptyMap();
          const model = new Map<string, MapEntry>();
          for (const ops of txns) {
            const valid = ops.filter((o) => o.key !== '');
            const before = state;
            const beforeJson = canonicalJson(before);
            state = run(state, valid);
            expect(canonicalJson(before)).toBe(beforeJson); // never modified
            for (const o of valid) {
              if (o.op === 'delete') model.delete(o.key);
              else model.set(o.key, getEntry(state, o.key)!);
            }
            // the leaves that changed are exactly where the writes went
            const touched = new Set<string>();
            for (const [x, y] of changedLeaves(before, state)) {
              for (const k of [...x.keys, ...y.keys]) if (x.get(k) !== y.get(k)) touched.add(k);
            }
            for (const k of touched) expect(valid.some((o) => o.key === k)).toBe(true);
          }
          const seen = new Map<string, MapEntry>();
          forEachEntry(state, (k, e) => seen.set(k, e));
          expect(seen).toEqual(model);
          expect(state.count).toBe(model.size);
          for (const [k, e] of model) expect(getEntry(state, k)).toBe(e);
          // the same keys and values set at once, in another order: the same tree shape
          const rebuilt = run(
            emptyMap(),
            [...model.keys()]
              .sort()
              .reverse()
              .map((k) => ({ op: 'set' as const, key: k, value: model.get(k)!.value })),
          );
          expect(canonicalJson(shape(rebuilt))).toBe(canonicalJson(shape(state)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('deleting every key leaves the empty tree', () => {
    let state = emptyMap();
    const keys = Array.from({ length: 5000 }, (_, i) => `k/${i}`);
    state = run(
      state,
      keys.map((k) => ({ op: 'set', key: k, value: k })),
    );
    expect(state.count).toBe(5000);
    state = run(
      state,
      keys.map((k) => ({ op: 'delete', key: k })),
    );
    expect(state.tree).toEqual({});
    expect(state.count).toBe(0);
    expect(state.bytes).toBe(0);
  });

  it('a set copies only the path to one leaf', () => {
    let state = emptyMap();
    state = run(
      state,
      Array.from({ length: 20_000 }, (_, i) => ({ op: 'set' as const, key: `k/${i}`, value: i })),
    );
    const next = run(state, [{ op: 'set', key: 'k/7', value: 'x' }]);
    const changed = changedLeaves(state, next);
    expect(changed).toHaveLength(1);
    let shared = 0;
    for (const d of Object.keys(state.tree)) if (state.tree[d] === next.tree[d]) shared++;
    expect(shared).toBe(Object.keys(state.tree).length - 1);
  });
});

describe('keys that are not data', () => {
  it("rejects '__proto__' in the replicated apply, leaving the state untouched", () => {
    const before = run(emptyMap(), [{ op: 'set', key: 'a', value: 1 }]);
    expect(() => run(before, [{ op: 'set', key: '__proto__', value: { polluted: true } }])).toThrow(
      InvalidKeyError,
    );
    expect(getEntry(before, '__proto__')).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const keys: string[] = [];
    forEachEntry(before, (k) => keys.push(k));
    expect(keys).toEqual(['a']);
  });
});
