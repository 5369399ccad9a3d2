/**
 * The store's leaves are `SortedRecord`s (sorted parallel arrays), not the plain objects they
 * were: what leaves the process must not change. Against a plain-object reference (a leaf an
 * object, copied member by member, the reducer written plainly), over random histories of
 * keys that land in the same leaves, including keys that are Object.prototype's names,
 * integer-like, non-ASCII, and pairs that sort one way in UTF-16 and the other in code
 * points: the same canonical JSON, digest, journal patches (byte for byte) and result; the
 * same snapshot lines as the reference with its members in sorted order (JSON leaves the
 * order free; it followed the history before), parsed back to the same state; and a data
 * directory written by the version before this layout (fixtures/old-data-dir) loads.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { enablePatches, Immer, type Patch } from 'immer';
import { MemoryCluster } from '@cpgkit/core/testing';
import { canonicalJson, digestOf } from '../src/canonical.js';
import { SortedRecord } from '../src/sorted-record.js';
import type { Image } from '../src/image.js';
import { SnapshotReader, snapshotLines } from '../src/snapshot-text.js';
import { SnapshotStore } from '../src/persistence.js';
import { ReplicatedMap } from '../src/index.js';
import {
  DEFAULT_LIMITS,
  checkSizes,
  emptyMap,
  getEntry,
  pathOf,
  type MapEntry,
  type MapOp,
  type MapState,
} from '../src/map/state.js';
import { reduceTxn } from '../src/map/reduce-txn.js';

enablePatches();
const immer = new Immer({ autoFreeze: false });

/** Keys JSON, sorting or objects treat specially. */
const SPECIAL = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '10',
  '2',
  '0',
  '-1',
  '1.5',
  '4294967295',
  'é',
  'e\u0301',
  '\uffff',
  '😀', // U+1F600: after U+FFFF in code points, before it in UTF-16
  '\ud7ff',
  '"quoted"\\',
  'line\nbreak',
  'a/b',
];

/** `n` keys in the leaf of `key` (found by trying suffixes), so that leaves hold several keys. */
function sameLeaf(key: string, n: number): string[] {
  const [a, b, c] = pathOf(key);
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const k = `${key}~${i}`;
    const [x, y, z] = pathOf(k);
    if (x === a && y === b && z === c) out.push(k);
  }
  return out;
}

const POOL = [...SPECIAL, ...sameLeaf('10', 6), ...sameLeaf('😀', 6), ...sameLeaf('x', 20)];
/** Keys of the same leaf as '10', sorting differently in UTF-16 and in code points. */
const MIXED = ['\uffff', '😀', 'é', '10', ...sameLeaf('\uffff', 3), ...sameLeaf('😀', 3)];

const value = fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null));
const key = fc.oneof(fc.constantFrom(...POOL, ...MIXED), fc.string({ minLength: 1, maxLength: 3 }));
const op: fc.Arbitrary<MapOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), key, value }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
);

// ------------------------------------------------------------------ the plain reference

type Obj = Record<string, unknown>;

/** A copy of a plain tree's nodes (prototype-less objects, as the leaves were); entries shared. */
function clone(o: Obj, depth = 0): Obj {
  const out = Object.create(null) as Obj;
  for (const k of Object.keys(o)) out[k] = depth === 3 ? o[k] : clone(o[k] as Obj, depth + 1);
  return out;
}

/**
 * A transaction of `ops` on a store whose leaves are plain objects: the rules of `reduceTxn`
 * written plainly (every entry where immer would put it, empty nodes removed, one `add` of
 * the highest node created, one `remove` of the highest node emptied).
 */
function plainReduce(
  state: MapState,
  ops: readonly MapOp[],
  patches: Patch[],
): { state: MapState; revision: number } {
  const sizes = ops.map((o) => (o.op === 'set' ? checkSizes(o.key, o.value, DEFAULT_LIMITS) : 0));
  const tree = clone(state.tree);
  const rev = state.revision + 1;
  let { count, bytes } = state;
  let changed = false;
  ops.forEach((o, i) => {
    const [d1, d2, d3] = pathOf(o.key);
    const n1 = tree[d1] as Obj | undefined;
    const n2 = n1?.[d2] as Obj | undefined;
    const leaf = n2?.[d3] as Obj | undefined;
    const prev =
      leaf !== undefined && Object.hasOwn(leaf, o.key) ? (leaf[o.key] as MapEntry) : undefined;
    if (o.op === 'delete') {
      if (prev === undefined) return;
      changed = true;
      count--;
      bytes -= prev.size;
      delete leaf![o.key];
      let path = ['tree', d1, d2, d3, o.key];
      if (Object.keys(leaf!).length === 0) {
        delete n2![d3];
        path = ['tree', d1, d2, d3];
        if (Object.keys(n2!).length === 0) {
          delete n1![d2];
          path = ['tree', d1, d2];
          if (Object.keys(n1!).length === 0) {
            delete tree[d1];
            path = ['tree', d1];
          }
        }
      }
      patches.push({ op: 'remove', path });
      return;
    }
    changed = true;
    const size = sizes[i]!;
    if (prev === undefined) count++;
    bytes += size - (prev?.size ?? 0);
    const entry: MapEntry = {
      createRevision: prev?.createRevision ?? rev,
      revision: rev,
      size,
      value: o.value,
      version: (prev?.version ?? 0) + 1,
    };
    const obj = (): Obj => Object.create(null) as Obj;
    if (n1 === undefined) {
      patches.push({
        op: 'add',
        path: ['tree', d1],
        value: { [d2]: { [d3]: { [o.key]: entry } } },
      });
      tree[d1] = Object.assign(obj(), {
        [d2]: Object.assign(obj(), { [d3]: newLeaf(o.key, entry) }),
      });
    } else if (n2 === undefined) {
      patches.push({ op: 'add', path: ['tree', d1, d2], value: { [d3]: { [o.key]: entry } } });
      n1[d2] = Object.assign(obj(), { [d3]: newLeaf(o.key, entry) });
    } else if (leaf === undefined) {
      patches.push({ op: 'add', path: ['tree', d1, d2, d3], value: { [o.key]: entry } });
      n2[d3] = newLeaf(o.key, entry);
    } else {
      patches.push({
        op: prev === undefined ? 'add' : 'replace',
        path: ['tree', d1, d2, d3, o.key],
        value: entry,
      });
      leaf[o.key] = entry;
    }
  });
  if (!changed) return { state, revision: state.revision };
  patches.push(
    { op: 'replace', path: ['revision'], value: rev },
    { op: 'replace', path: ['count'], value: count },
    { op: 'replace', path: ['bytes'], value: bytes },
  );
  return { state: { revision: rev, count, bytes, tree: tree as MapState['tree'] }, revision: rev };
}

function newLeaf(k: string, e: MapEntry): Obj {
  const o = Object.create(null) as Obj;
  o[k] = e;
  return o;
}

/** A plain tree with its levels' and leaves' members inserted in sorted order. */
function sortedTree(o: Obj, depth = 0): Obj {
  const out = Object.create(null) as Obj;
  for (const k of Object.keys(o).sort())
    out[k] = depth === 3 ? o[k] : sortedTree(o[k] as Obj, depth + 1);
  return out;
}

/** The reference with its tree's members in sorted order (JSON's order left free). */
function sortedMembers(s: MapState): MapState {
  return { ...s, tree: sortedTree(s.tree) as MapState['tree'] };
}

function imageOf<S>(state: S, index: number): Image<S> {
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

function linesOf(image: Image<unknown>): string[] {
  return [...snapshotLines(image)];
}

// ------------------------------------------------------------------ tests

describe('SortedRecord against the object it holds', () => {
  it('the same canonical JSON, digest (alone and nested) and JSON, over sets and deletes', () => {
    const keyOp = fc.tuple(
      fc.oneof(fc.constantFrom(...SPECIAL, ...MIXED), fc.string({ unit: 'binary', maxLength: 3 })),
      fc.option(fc.integer()),
    );
    fc.assert(
      fc.property(fc.array(keyOp, { maxLength: 60 }), (steps) => {
        let rec = new SortedRecord<number>([], []);
        const plain = Object.create(null) as Record<string, number>;
        for (const [k, v] of steps) {
          if (v === null) {
            rec = rec.delete(k);
            delete plain[k];
          } else {
            rec = rec.set(k, v);
            plain[k] = v;
          }
          expect(rec.get(k)).toBe(v ?? undefined);
        }
        expect([...rec.keys]).toEqual(Object.keys(plain).sort());
        expect(rec.size).toBe(Object.keys(plain).length);
        expect(canonicalJson(rec)).toBe(canonicalJson(plain));
        expect(canonicalJson([rec, { a: rec }])).toBe(canonicalJson([plain, { a: plain }]));
        // nested: a record of 16 members and more is summarised, as the object is
        expect(digestOf({ r: rec, l: [rec] })).toBe(
          digestOf({ r: { ...plain }, l: [{ ...plain }] }),
        );
        expect(digestOf(rec)).toBe(digestOf({ ...plain }));
        expect(JSON.parse(JSON.stringify({ rec }))).toEqual(
          JSON.parse(JSON.stringify({ rec: plain })),
        );
        expect(canonicalJson(SortedRecord.from(plain))).toBe(canonicalJson(plain));
      }),
      { numRuns: 300 },
    );
  });
});

describe('the store with SortedRecord leaves against the plain-object reference', () => {
  it('the same results, canonical JSON, digests, patches and snapshot lines', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ ops: fc.array(op, { minLength: 1, maxLength: 5 }), check: fc.boolean() }),
          {
            maxLength: 40,
          },
        ),
        (txns) => {
          let state = emptyMap();
          let ref = emptyMap();
          let replayed = emptyMap();
          for (const [i, t] of txns.entries()) {
            const patches: Patch[] = [];
            const refPatches: Patch[] = [];
            let got: unknown;
            let want: unknown;
            try {
              const r = reduceTxn(state, { compares: [], ops: t.ops }, DEFAULT_LIMITS, patches);
              state = r.state;
              got = r.result.revision;
            } catch (e) {
              got = (e as Error).name;
              patches.length = 0;
            }
            try {
              const r = plainReduce(ref, t.ops, refPatches);
              ref = r.state;
              want = r.revision;
            } catch (e) {
              want = (e as Error).name;
              refPatches.length = 0;
            }
            expect(got).toEqual(want);
            expect(JSON.stringify(patches)).toBe(JSON.stringify(refPatches));
            replayed = immer.applyPatches(replayed, patches);
            if (!t.check && i < txns.length - 1) continue;
            expect(canonicalJson(state)).toBe(canonicalJson(ref));
            expect(canonicalJson(replayed)).toBe(canonicalJson(ref));
            expect(digestOf(state)).toBe(digestOf(ref));
            expect(digestOf(replayed)).toBe(digestOf(ref));
            for (const o of t.ops) expect(getEntry(state, o.key)).toEqual(getEntry(ref, o.key));
            // snapshot lines: the reference's, members in sorted order; read back: the same state
            const lines = linesOf(imageOf(state, i));
            expect(lines).toEqual(linesOf(imageOf(sortedMembers(ref), i)));
            const reader = new SnapshotReader<MapState>();
            for (const l of lines) reader.line(l);
            const back = reader.image().state;
            expect(canonicalJson(back)).toBe(canonicalJson(ref));
            expect(digestOf(back)).toBe(digestOf(ref));
            // writes on a state read back (plain leaves) go on as on the live one
            const more = { compares: [], ops: t.ops };
            const again = (s: MapState): string => {
              try {
                return canonicalJson(reduceTxn(s, more, DEFAULT_LIMITS).state);
              } catch (e) {
                return (e as Error).name;
              }
            };
            expect(again(back)).toBe(again(state));
          }
        },
      ),
      { seed: 1515, numRuns: 200 },
    );
  });

  it('leaves of the benchmark size (hundreds of keys, summarised) digest as the reference', () => {
    const ops: MapOp[] = sameLeaf('k', 300).map((k, i) => ({ op: 'set', key: k, value: i }));
    const { state } = reduceTxn(emptyMap(), { compares: [], ops }, DEFAULT_LIMITS);
    const ref = plainReduce(emptyMap(), ops, []).state;
    expect(digestOf(state)).toBe(digestOf(ref));
    const del = ops
      .filter((_, i) => i % 3 === 0)
      .map((o) => ({ op: 'delete' as const, key: o.key }));
    const patches: Patch[] = [];
    const refPatches: Patch[] = [];
    const next = reduceTxn(state, { compares: [], ops: del }, DEFAULT_LIMITS, patches).state;
    const refNext = plainReduce(ref, del, refPatches).state;
    expect(JSON.stringify(patches)).toBe(JSON.stringify(refPatches));
    expect(digestOf(next)).toBe(digestOf(refNext));
    expect(canonicalJson(next)).toBe(canonicalJson(refNext));
  });
});

describe('a data directory of the plain-object layout', () => {
  const fixture = fileURLToPath(new URL('fixtures/old-data-dir', import.meta.url));
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cpgkit-old-dir-'));
    await cp(fixture, join(dir, 'kv'), { recursive: true });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads (snapshot plus journal) to the state it held, and takes writes after', async () => {
    const expected = JSON.parse(await readFile(join(fixture, 'expected.json'), 'utf8')) as {
      revision: number;
      digest: string;
      list: unknown[];
    };
    const loaded = await new SnapshotStore(join(dir, 'kv'), 'cpgkit.kv').load<MapState>();
    expect(digestOf(loaded!.state)).toBe(expected.digest);

    const cluster = new MemoryCluster({ nodes: 3, seed: 7 });
    const open = (): Promise<ReplicatedMap> =>
      ReplicatedMap.open(cluster.member(1), { dataDir: join(dir, 'kv'), checkInterval: 0 });
    const kv = await open();
    await cluster.runUntilIdle();
    await kv.ready();
    expect(kv.revision).toBe(expected.revision);
    expect(JSON.parse(JSON.stringify(kv.list()))).toEqual(expected.list);
    expect(digestOf(kv.machine.state)).toBe(expected.digest);
    for (const k of ['constructor', '10', '😀', 'new']) {
      const w = kv.set(k, { again: k });
      await cluster.runUntilIdle();
      await w;
    }
    const d = kv.delete('\uffff');
    await cluster.runUntilIdle();
    await d;
    await kv.machine.flush();
    const list = kv.list();
    const digest = digestOf(kv.machine.state);
    await kv.close();
    const back = await open();
    await cluster.runUntilIdle();
    await back.ready();
    expect(back.list()).toEqual(list);
    expect(digestOf(back.machine.state)).toBe(digest);
    expect(back.get('\uffff')).toBeUndefined();
    expect(back.get('😀')).toEqual({ again: '😀' });
    await back.close();
    cluster.destroy();
  });
});
