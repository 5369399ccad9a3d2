/**
 * The digest's cache by identity (canonical.ts) against a plain, uncached reference: over
 * random histories of the config store's tree (levels and leaves shared between versions, the
 * way `reduceTxn` builds them), the cached digest of every version equals the reference's, and
 * so does the digest of a fresh copy (what a replica loads from disk or receives in a
 * snapshot), at whatever points the digests were asked for.
 */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { CHECK_EVERY, digestOf, warmDigest } from '../src/canonical.js';
import { SortedRecord } from '../src/sorted-record.js';
import { imageDigest, parseImage, serializeImage, type Image } from '../src/image.js';
import { DEFAULT_LIMITS, emptyMap, pathOf, type MapOp, type MapState } from '../src/map/state.js';
import { reduceTxn } from '../src/map/reduce-txn.js';

/** The digest's definition, written plainly: no cache, no shortcut, a fresh walk every time. */
function plainDigest(value: unknown): string {
  return createHash('sha256').update(plainText(value, true)).digest('hex');
}

function plainText(value: unknown, top: boolean): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `"${value}"`;
  if (typeof value !== 'object') return 'null';
  // a `SortedRecord` leaf: the object it holds, as JSON sees it
  if ('toJSON' in value) return plainText((value as { toJSON(): unknown }).toJSON(), top);
  if (Array.isArray(value)) {
    if (!top && value.length >= 16) return `<${plainDigest(value)}>`;
    return `[${value.map((v) => plainText(v, false)).join(',')}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined && typeof obj[k] !== 'function')
    .sort();
  if (!top && keys.length >= 16) return `<${plainDigest(value)}>`;
  return `{${keys.map((k) => `${JSON.stringify(k)}:${plainText(obj[k], false)}`).join(',')}}`;
}

/**
 * Keys chosen so that small histories reach every case of the Merkle tree: 24 keys in each
 * leaf under `0/0` (leaves of 16 keys and more are digested on their own, and level `0/0` gets
 * all 16 children), plus 2 keys under each of the 16 first-level digits (a root of 16 children).
 */
const pool: string[] = (() => {
  const byLeaf = new Map<string, string[]>();
  const byTop = new Map<string, string[]>();
  for (let i = 0; byLeaf.size < 16 || [...byLeaf.values()].some((l) => l.length < 24); i++) {
    const k = `k${i}`;
    const [d1, d2, d3] = pathOf(k);
    const top = byTop.get(d1) ?? [];
    if (top.length < 2) byTop.set(d1, [...top, k]);
    if (d1 !== '0' || d2 !== '0') continue;
    const leaf = byLeaf.get(d3) ?? [];
    if (leaf.length < 24) byLeaf.set(d3, [...leaf, k]);
  }
  return [...new Set([...[...byLeaf.values()].flat(), ...[...byTop.values()].flat()])];
})();

const value = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 3 }),
  fc.array(fc.integer(), { maxLength: 20 }),
  fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 20 }),
);
const op: fc.Arbitrary<MapOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...pool), value }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...pool) }),
  },
);
/** A transaction, and whether to ask for the digest right after it (warming the cache). */
const step = fc.record({
  ops: fc.array(op, { minLength: 1, maxLength: 40 }),
  digestNow: fc.boolean(),
});

function imageOf(state: MapState, index: number): Image<MapState> {
  return {
    epoch: 1,
    index: BigInt(index),
    time: 0,
    members: [],
    knownNodes: [1],
    replicas: [],
    gone: [],
    settled: 0,
    provenReplicas: [],
    provenGone: [],
    state,
  };
}

describe('digestOf: the cache by identity gives the plain digest', () => {
  it('every version of random store histories, and fresh copies of them, digest as the reference', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        let state = emptyMap();
        const versions: MapState[] = [state];
        for (const s of steps) {
          state = reduceTxn(state, { compares: [], ops: s.ops }, DEFAULT_LIMITS).state;
          versions.push(state);
          if (s.digestNow) expect(digestOf(state)).toBe(plainDigest(state));
        }
        // older versions after newer ones were digested (shared nodes cached by then)
        for (const v of versions) expect(digestOf(v)).toBe(plainDigest(v));
        // a loaded or received snapshot: fresh objects, same digest
        const img = imageOf(state, versions.length);
        const fresh = parseImage<MapState>(serializeImage(img));
        expect(imageDigest(fresh)).toBe(imageDigest(img));
        expect(digestOf(fresh.state)).toBe(plainDigest(state));
        expect(digestOf(JSON.parse(JSON.stringify(state)))).toBe(plainDigest(state));
      }),
      { numRuns: 150 },
    );
  });

  it('the key pool reaches summarised leaves and levels', () => {
    let state = emptyMap();
    state = reduceTxn(
      state,
      { compares: [], ops: pool.map((key) => ({ op: 'set' as const, key, value: 1 })) },
      DEFAULT_LIMITS,
    ).state;
    const level = state.tree['0']!['0']!;
    expect(Object.values(level).filter((l) => l !== undefined)).toHaveLength(16);
    expect(
      Object.keys(JSON.parse(JSON.stringify(level['0']!)) as object).length,
    ).toBeGreaterThanOrEqual(16);
    expect(Object.values(state.tree).filter((l) => l !== undefined)).toHaveLength(16);
    expect(digestOf(state)).toBe(plainDigest(state));
  });

  it('warmDigest fills the cache in slices that end at the deadline, and the digest stays the same', () => {
    const ops = Array.from({ length: 3000 }, (_, i) => ({
      op: 'set' as const,
      key: `w${i}`,
      value: i,
    }));
    const state = reduceTxn(emptyMap(), { compares: [], ops }, DEFAULT_LIMITS).state;
    const expected = plainDigest(state);
    // a deadline already past: every call stops after CHECK_EVERY (16) members
    let calls = 1;
    while (!warmDigest(state, 0)) calls++;
    // with 3,000 keys the large nodes are the 16 second-level ones (16 children each) and the
    // root; third-level nodes and leaves are small (digested with their parent). One call per
    // large node (16 members each), then one that finds everything cached.
    expect(calls).toBe(16 + 1 + 1);
    expect(warmDigest(state, 0)).toBe(true);
    expect(digestOf(state)).toBe(expected);
    // a small state, or one digested already, is warm at once
    expect(warmDigest({ a: 1 }, 0)).toBe(true);
  });
});

describe('digestOf: small objects of a remembered shape (canonical.ts, `Shape`)', () => {
  /** Key names that sort differently from their insertion order, integer-like ones included. */
  const names = ['value', 'revision', 'b', '10', '9', 'a', 'é', 'A', '__proto', 'z z', '', 'x"'];

  it('digest as the reference whatever the key order, undefined and function members', () => {
    const member = fc.oneof(
      fc.integer(),
      fc.string(),
      fc.constant(undefined),
      fc.constant(() => 1),
      fc.dictionary(fc.constantFrom(...names), fc.integer(), { maxKeys: 4 }),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: names.length }),
        fc.array(member, { minLength: names.length, maxLength: names.length }),
        fc.integer({ min: 1, max: 6 }),
        (keys, values, copies) => {
          // several objects of the same key list, then the same keys in another order: the
          // second and later ones hit the remembered shape
          const entries = keys.map((k, i): [string, unknown] => [k, values[i]]);
          const objects = Array.from({ length: copies }, () => Object.fromEntries(entries));
          const reversed: Record<string, unknown> = Object.fromEntries([...entries].reverse());
          const expected = plainDigest(objects[0]);
          for (const o of objects) expect(digestOf(o)).toBe(expected);
          expect(digestOf(reversed)).toBe(expected);
          // below the top too, inside a large array (digested on its own)
          const list = Array.from({ length: 20 }, () => reversed);
          expect(digestOf({ list })).toBe(plainDigest({ list }));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('warmDigest cut by its deadline anywhere, inside large objects too', () => {
  /** JSON-like values with large arrays, objects and `SortedRecord`s, nested in each other. */
  const tree = fc.letrec((tie) => ({
    node: fc.oneof(
      { maxDepth: 2, depthSize: 'small', withCrossShrink: true },
      fc.integer(),
      fc.string({ maxLength: 4, unit: 'binary' }),
      fc.constant(undefined),
      fc.constant(() => 1),
      fc.bigInt(),
      // large ones (16 members and more) are what a deadline cuts inside
      fc.array(tie('node'), { minLength: 10, maxLength: 40 }),
      fc.dictionary(fc.string({ maxLength: 3, unit: 'binary' }), tie('node'), {
        minKeys: 10,
        maxKeys: 40,
      }),
      fc
        .uniqueArray(fc.string({ maxLength: 3, unit: 'binary' }), {
          minLength: 10,
          maxLength: 40,
        })
        .chain((keys) =>
          fc
            .array(
              fc.oneof(
                fc.integer(),
                tie('node').filter((v) => v !== undefined && typeof v !== 'function'),
              ),
              {
                minLength: keys.length,
                maxLength: keys.length,
              },
            )
            .map((values) => {
              const sorted = [...keys].sort();
              return new SortedRecord(
                sorted,
                sorted.map((k) => values[keys.indexOf(k)]),
              );
            }),
        ),
    ),
  })).node;

  /** A deadline cut at the reads of the clock that `cuts` says (cycled): 1 is past, 0 not. */
  function clockOf(cuts: readonly boolean[]): () => number {
    let i = 0;
    return () => (cuts[i++ % cuts.length] ? 1 : 0);
  }

  it('any pattern of cuts: the digest warmed in pieces is the plain digest', () => {
    fc.assert(
      fc.property(tree, fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }), (v, cuts) => {
        const now = clockOf(cuts);
        let calls = 0;
        while (!warmDigest(v, 0.5, now)) expect(++calls).toBeLessThan(100_000);
        // the value below the top (as a replica digests its state: see imageDigest)
        expect(digestOf({ v })).toBe(plainDigest({ v }));
        expect(digestOf(v)).toBe(plainDigest(v));
      }),
      { numRuns: 400 },
    );
  });

  it('a deadline past at exactly one read of the clock, for every read: the plain digest', () => {
    const build = (): unknown => ({
      flat: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, { n: i, s: 'é😀' }])),
      list: Array.from({ length: 40 }, (_, i) =>
        i % 3 === 0 ? Array.from({ length: 17 }, (_, j) => j) : i,
      ),
      rec: new SortedRecord(
        Array.from({ length: 33 }, (_, i) => `r${String(i).padStart(2, '0')}`),
        Array.from({ length: 33 }, (_, i) => ({
          big: Array.from({ length: 16 + (i % 3) }, () => i),
        })),
      ),
    });
    const expected = plainDigest({ v: build() });
    // how many times a warm that is never cut reads the clock
    let reads = 0;
    expect(warmDigest(build(), 1, () => (reads++, 0))).toBe(true);
    expect(reads).toBeGreaterThan(10);
    for (let at = 0; at <= reads; at++) {
      const v = build();
      let read = 0;
      const first = warmDigest(v, 0.5, () => (read++ === at ? 1 : 0));
      expect(first).toBe(at === reads);
      expect(warmDigest(v, 0.5, () => 0)).toBe(true);
      expect(digestOf({ v })).toBe(expected);
    }
  });

  it('one object of many small members is spread over calls of CHECK_EVERY members', () => {
    const n = 2000;
    const flat = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, { n: i }]));
    let calls = 1;
    while (!warmDigest(flat, 0, () => 1)) calls++;
    // one call per CHECK_EVERY members (the last one finishes it), then one that finds it cached
    expect(calls).toBe(n / CHECK_EVERY + 1);
    expect(digestOf({ flat })).toBe(plainDigest({ flat }));
  });
});
