/**
 * The digest keeps a piece's text (canonical.ts `pieceTextOf`) only when that text is at once
 * the piece's canonical JSON and its `JSON.stringify` text, and the sync leader writes such a
 * piece from it (snapshot-text.ts): the lines are the same bytes as without the kept texts,
 * and no leaf of a digested store is serialised again. A piece never holds an object that is
 * digested on its own, so a target can hash every piece from its bytes (piece-digest.ts).
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, digestOf, warmDigest } from '../src/canonical.js';
import { pieceTextOf } from '../src/piece-text.js';
import { PIECE_MEMBERS } from '../src/json-pieces.js';
import { snapshotLines } from '../src/snapshot-text.js';
import { textDigestOf } from '../src/piece-digest.js';
import { SortedRecord } from '../src/sorted-record.js';
import {
  DEFAULT_LIMITS,
  emptyMap,
  nextEntry,
  type MapOp,
  type MapState,
} from '../src/map/state.js';
import { reduceTxn } from '../src/map/reduce-txn.js';
import { imageOf } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Members as JSON writes them, nested ones included (`PieceText.members`). */
function jsonMembers(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const o = v instanceof SortedRecord ? (v as SortedRecord<unknown>).toJSON() : v;
  const items: unknown[] = Array.isArray(o) ? o : Object.values(o);
  return items.reduce<number>((n, x) => n + 1 + jsonMembers(x), 0);
}

/** An object with `entries` inserted in this order (a `__proto__` key is a member). */
function objectOf(entries: [string, unknown][]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries)
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

const sortedEntries = (e: [string, unknown][]): [string, unknown][] =>
  [...e].sort((a, b) => (a[0] < b[0] ? -1 : 1));

/** A store leaf of `n` entries, as the config store writes them (members sorted). */
function leaf(
  n: number,
  value: (i: number) => unknown = (i) => `value ${i}`,
): SortedRecord<unknown> {
  const keys = Array.from({ length: n }, (_, i) => `k/${String(i).padStart(3, '0')}`);
  return new SortedRecord(
    keys,
    keys.map((k, i) => nextEntry(undefined, value(i) as never, i + 1, k.length + 8)),
  );
}

/** Digest `v` inside a parent: by `digestOf` (whole), or warmed with a cut at every clock read. */
function digestBy(v: object, how: 'whole' | 'cut'): void {
  if (how === 'whole') digestOf({ v });
  else {
    let t = 0;
    while (!warmDigest(v, 0, () => ++t));
  }
}

describe('pieceTextOf', () => {
  for (const how of ['whole', 'cut'] as const)
    it(`keeps a store leaf's text, its JSON and canonical JSON, once digested (${how})`, () => {
      const l = leaf(40);
      expect(pieceTextOf(l)).toBeUndefined();
      digestBy(l, how);
      const kept = pieceTextOf(l);
      expect(kept?.text).toBe(JSON.stringify(l));
      expect(kept?.text).toBe(canonicalJson(l));
      expect(kept?.members).toBe(jsonMembers(l));
      // a plain object of the same members, sorted
      const plain = objectOf(Object.entries(l.toJSON()));
      digestBy(plain, how);
      expect(pieceTextOf(plain)?.text).toBe(JSON.stringify(plain));
    });

  for (const how of ['whole', 'cut'] as const)
    it(`keeps no text that is not both (${how})`, () => {
      const unsorted = objectOf(
        Array.from({ length: 20 }, (_, i) => [`k${19 - i}`, { b: 1, a: 2 }] as [string, unknown]),
      );
      const unsortedInside = objectOf(
        sortedEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, { b: 1, a: 2 }])),
      );
      // toJSON's object lists index keys first: "9" before "10", canonical JSON "10" before "9"
      const indexKeys = SortedRecord.from(
        Object.fromEntries(Array.from({ length: 20 }, (_, i) => [String(i), i])),
      );
      const nestedLarge = leaf(20, (i) => (i === 3 ? Array.from({ length: 16 }, (_, j) => j) : i));
      const tooMany = leaf(Math.ceil(PIECE_MEMBERS / 6) + 1, (i) => i);
      const date = leaf(20, (i) => (i === 5 ? new Date(0) : i));
      const big = leaf(20, (i) => (i === 5 ? 5n : i));
      const fn = leaf(20, (i) =>
        i === 5
          ? objectOf([
              ['a', 1],
              ['toJSON', () => 7],
            ])
          : i,
      );
      for (const v of [unsorted, unsortedInside, indexKeys, nestedLarge, tooMany, date, big, fn]) {
        digestBy(v, how);
        expect(pieceTextOf(v)).toBeUndefined();
      }
      // the same shapes, canonical: kept
      const sorted = objectOf(
        sortedEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, { a: 2, b: 1 }])),
      );
      const digits = SortedRecord.from<number>(
        Object.fromEntries(
          Array.from({ length: 10 }, (_, i): [string, number] => [String(i), i]).concat([
            ['a', 1],
            ['b', 2],
            ['c', 3],
            ['d', 4],
            ['e', 5],
            ['f', 6],
          ]),
        ),
      );
      const justEnough = leaf(Math.floor(PIECE_MEMBERS / 6), (i) => i);
      for (const v of [sorted, digits, justEnough]) {
        digestBy(v, how);
        expect(pieceTextOf(v)?.text).toBe(JSON.stringify(v));
      }
    });

  const scalar = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.constant(null),
  );
  const json = fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      scalar,
      fc.array(tie('v'), { maxLength: 18 }),
      fc
        .array(
          fc.tuple(
            fc.oneof(
              { arbitrary: fc.string({ unit: 'binary', maxLength: 6 }), weight: 9 },
              { arbitrary: fc.constantFrom('__proto__', '10', '9', 'é'), weight: 1 },
            ),
            tie('v'),
          ),
          { maxLength: 18 },
        )
        // mostly sorted: a piece is kept only when every object in it is
        .chain((e) =>
          fc.integer({ min: 0, max: 19 }).map((s) => objectOf(s > 0 ? sortedEntries(e) : e)),
        ),
    ),
  })).v;

  it('whenever a text is kept, it is the JSON and the canonical JSON of its object, however digested', () => {
    let kept = 0;
    fc.assert(
      fc.property(
        // mostly scalars, as a store leaf's entries: a piece is kept only when all of it is canonical
        fc.array(fc.oneof({ arbitrary: scalar, weight: 6 }, { arbitrary: json, weight: 1 }), {
          minLength: 16,
          maxLength: 30,
        }),
        fc.boolean(),
        fc.constantFrom('whole', 'cut'),
        (items, asRecord, how) => {
          const keys = items.map((_, i) => `m${String(i).padStart(2, '0')}`);
          const v = asRecord ? new SortedRecord(keys, items) : items;
          digestBy(v, how);
          const t = pieceTextOf(v);
          if (t === undefined) return;
          kept++;
          expect(t.text).toBe(JSON.stringify(v));
          expect(t.text).toBe(canonicalJson(v));
          expect(t.members).toBe(jsonMembers(v));
        },
      ),
      { seed: 15, numRuns: 400 },
    );
    // not vacuous
    expect(kept).toBeGreaterThan(50);
  });
});

/** A store of `n` keys, written in batches as the config store builds it. */
function store(n: number): MapState {
  let s = emptyMap();
  for (let i = 0; i < n; i += 1000) {
    const ops: MapOp[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++)
      ops.push({
        op: 'set',
        key: `r/${String(j).padStart(7, '0')}`,
        value: { n: j, s: 'v'.repeat(8) },
      });
    s = reduceTxn(s, { compares: [], ops }, DEFAULT_LIMITS).state;
  }
  return s;
}

/** Whether an object or array of 16 members or more is nested in `v` (below `v` itself). */
function largeBelow(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  return Object.values(v).some(
    (x) =>
      x !== null &&
      typeof x === 'object' &&
      (Object.keys(x as object).length >= 16 || largeBelow(x)),
  );
}

describe('a snapshot of a digested state', () => {
  it('writes its leaves from their kept texts: the same lines, no leaf serialised again', () => {
    // 20 keys a leaf on average: leaves are digested on their own
    const state = store(80_000);
    const cold = [...snapshotLines(imageOf(state))];
    warmDigest(state, Infinity);
    const stringify = vi.spyOn(JSON, 'stringify');
    const warm = [...snapshotLines(imageOf(state))];
    // a leaf of fewer than 16 entries is digested with its parent: no text of its own
    const leaves = stringify.mock.calls.filter(
      ([v]) => v instanceof SortedRecord && v.size >= 16,
    ).length;
    stringify.mockRestore();
    expect(warm).toEqual(cold);
    expect(leaves).toBe(0);
    // without the kept texts every leaf is serialised: the spy sees them
    const again = vi.spyOn(JSON, 'stringify');
    const lines = [...snapshotLines(imageOf(store(80_000)))];
    expect(lines).toHaveLength(cold.length);
    expect(again.mock.calls.filter(([v]) => v instanceof SortedRecord).length).toBeGreaterThan(
      1000,
    );
  });

  it('holds no object digested on its own below a piece, so a target hashes every piece from its bytes', () => {
    const big = Array.from({ length: 16 }, (_, i) => i);
    const states: unknown[] = [
      { a: { b: big } },
      { log: [...big, ...big], n: 1 },
      [{ x: big }, 1],
      store(30_000),
    ];
    for (const state of states) {
      digestOf(state);
      for (const line of [...snapshotLines(imageOf(state))].slice(1)) {
        const [, , value, open] = JSON.parse(line) as [number, unknown, unknown, 1 | undefined];
        if (open === 1 || value === null || typeof value !== 'object') continue;
        const text = line.slice(line.indexOf(',', line.indexOf(',') + 1) + 1, -1);
        const n = Array.isArray(value) ? value.length : Object.keys(value).length;
        // a small piece is digested with its parent; a large one from its bytes
        expect(largeBelow(value)).toBe(false);
        if (n >= 16) expect(textDigestOf(value, Buffer.from(text))).toBeDefined();
      }
    }
  });
});
