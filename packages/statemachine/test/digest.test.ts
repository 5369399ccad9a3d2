import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Immer } from 'immer';
import { digestOf } from '../src/canonical.js';

const immer = new Immer({ autoFreeze: false });

/** Rebuild a JSON value with fresh objects and object keys inserted in reverse order. */
function reshuffle(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reshuffle);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).reverse()) out[k] = reshuffle((v as Record<string, unknown>)[k]);
  return out;
}

const big = fc.dictionary(
  fc.string({ maxLength: 3 }),
  fc.oneof(fc.integer(), fc.array(fc.integer(), { maxLength: 40 })),
  { minKeys: 10, maxKeys: 40 },
);

describe('digestOf (Merkle, cached by identity)', () => {
  it('equal JSON gives equal digests whatever the objects and key order; cached subtrees stay right', () => {
    fc.assert(
      fc.property(big, big, fc.string({ maxLength: 3 }), fc.integer(), (a, b, key, n) => {
        const state = { a, b, list: Object.keys(a) };
        const d = digestOf(state);
        expect(digestOf(reshuffle(state))).toBe(d);
        // an update that shares b: the digest follows the change, and matches a fresh copy
        const next = immer.produce(state, (draft) => {
          draft.a[key] = n;
        });
        const fresh = digestOf(reshuffle(next));
        expect(digestOf(next)).toBe(fresh);
        expect(digestOf(state)).toBe(d);
        expect(fresh === d).toBe(JSON.stringify(a[key]) === JSON.stringify(n));
      }),
      { numRuns: 300 },
    );
  });

  it('a value and a digest-looking string never collide', () => {
    const arr = Array.from({ length: 20 }, (_, i) => i);
    expect(digestOf({ x: arr })).not.toBe(digestOf({ x: `<${digestOf(arr)}>` }));
  });
});
