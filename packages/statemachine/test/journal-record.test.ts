/**
 * What one log record holds (journal.ts `record`): a `replace` of a top-level member of an
 * object state takes the place of that member's last pending `replace` while nothing since
 * touched the member, so a record of N map commands carries the counters once. Random
 * histories of object and array states, written in random batches, reload to exactly the
 * last written image.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Immer, type Draft, type Patch } from 'immer';
import { canonicalJson } from '../src/canonical.js';
import type { Image } from '../src/image.js';
import { Journal } from '../src/journal.js';
import { SnapshotStore } from '../src/persistence.js';
import { applyTxn, DEFAULT_LIMITS, emptyMap, type MapState } from '../src/map/state.js';

const immer = new Immer({ autoFreeze: false });
/** immer's `produceWithPatches` for a recipe of any state type (the tests' drafts are plain). */
const produce = immer.produceWithPatches.bind(immer) as unknown as <T>(
  base: T,
  recipe: (draft: T) => T | void,
) => [T, Patch[], Patch[]];
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cpgkit-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function image<S>(state: S, index: number): Image<S> {
  return {
    epoch: 1,
    index: BigInt(index),
    time: index,
    members: [{ nodeid: 1, pid: 2, incarnation: 'x' }],
    knownNodes: [1],
    replicas: ['r1'],
    gone: [],
    settled: 1,
    provenReplicas: [],
    provenGone: [],
    state,
  };
}

/** The patches of every log record written so far, in order. */
async function loggedPatches(d: string): Promise<Patch[][]> {
  const lines = (await readFile(join(d, 'kv.log'), 'utf8')).split('\n').slice(1);
  return lines
    .filter((l) => l.includes(' {'))
    .map((l) => (JSON.parse(l.slice(l.indexOf(' ') + 1)) as { patches: Patch[] }).patches);
}

/**
 * Random histories of `step`s from `initial`, written in random batches, each reload to the
 * last written image (`replays`; 60 runs, each in a directory of its own).
 */
async function historiesReplay<S extends object>(
  step: fc.Arbitrary<(draft: S) => S | void>,
  initial: S,
): Promise<void> {
  let run = 0;
  const root = dir;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof({ weight: 5, arbitrary: step }, fc.constant('write' as const)), {
        maxLength: 30,
      }),
      async (steps) => replays<S>(join(root, `h${run++}`), initial, steps),
    ),
    { numRuns: 60 },
  );
}

/**
 * `first` written as a snapshot, then each `[next, patches]` recorded in turn and written as
 * one log record; the state the directory reloads to.
 */
async function oneRecordOf<S>(first: S, steps: [S, Patch[]][]): Promise<S> {
  const store = new SnapshotStore(dir, 'kv');
  const journal = new Journal<S>(store, 1 << 30);
  await journal.write(image(first, 0));
  let prev = first;
  for (const [next, patches] of steps) {
    journal.record(prev, next, patches);
    prev = next;
  }
  await journal.write(image(prev, steps.length));
  await store.close();
  return (await new SnapshotStore(dir, 'kv').load<S>())!.state;
}

type Obj = Record<string, unknown>;
/** A change of an object state: top-level members set, added, deleted; nested ones; the root. */
const objectStep: fc.Arbitrary<(d: Draft<Obj>) => Obj | void> = fc.oneof(
  fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer()).map(([k, v]) => (d: Draft<Obj>) => {
    d[k] = v;
  }),
  fc.constantFrom('a', 'b', 'c').map((k) => (d: Draft<Obj>) => {
    delete d[k];
  }),
  fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer()).map(([k, v]) => (d: Draft<Obj>) => {
    const inner = d[k];
    if (typeof inner === 'object' && inner !== null) (inner as Obj).x = v;
    else d[k] = { x: v };
  }),
  fc.integer().map((v) => () => ({ a: v })),
);
/** A change of an array state: an element set, pushed, popped, the length cut. */
const arrayStep: fc.Arbitrary<(d: number[]) => void> = fc.oneof(
  fc.tuple(fc.nat(6), fc.integer()).map(([i, v]) => (d: number[]) => {
    d[Math.min(i, d.length)] = v;
  }),
  fc.integer().map((v) => (d: number[]) => {
    d.push(v);
  }),
  fc.constant((d: number[]) => {
    d.pop();
  }),
  fc.nat(4).map((n) => (d: number[]) => {
    if (n < d.length) d.length = n;
  }),
);

/** Applies `steps` (a change, or `write`) through a journal; the reload equals the last write. */
async function replays<S extends object>(
  d: string,
  initial: S,
  steps: readonly ('write' | ((draft: S) => S | void))[],
): Promise<void> {
  const store = new SnapshotStore(d, 'kv');
  const journal = new Journal<S>(store, 1 << 30);
  let state = initial;
  let index = 0;
  let written = image(state, index);
  await journal.write(written); // the first write is a snapshot: the rest are log records
  for (const s of steps) {
    if (s === 'write') {
      written = image(state, index);
      await journal.write(written);
      continue;
    }
    const prev = state;
    const [next, patches] = produce(state, s);
    journal.record(prev, next, patches);
    state = next;
    index++;
  }
  await store.close();
  expect(canonicalJson(await new SnapshotStore(d, 'kv').load())).toBe(canonicalJson(written));
}

describe('journal: what a log record holds', () => {
  it("a record of N map commands holds each command's leaf and the counters once", async () => {
    const store = new SnapshotStore(dir, 'kv');
    const journal = new Journal<MapState>(store, 1 << 30);
    let state = emptyMap();
    await journal.write(image(state, 0));
    const n = 10;
    for (let i = 0; i < n; i++) {
      const prev = state;
      const [next, patches] = immer.produceWithPatches(prev, (d: Draft<MapState>) => {
        applyTxn(d, { compares: [], ops: [{ op: 'set', key: `k${i}`, value: i }] }, DEFAULT_LIMITS);
      });
      journal.record(prev, next, patches);
      state = next;
    }
    const last = image(state, n);
    await journal.write(last);
    await store.close();
    const [record] = await loggedPatches(dir);
    const counters = record!.filter((p) => p.path.length === 1);
    const seen = counters.map((p): unknown[] => [p.op, p.path[0], p.value]);
    expect(seen.sort()).toEqual([
      ['replace', 'bytes', state.bytes],
      ['replace', 'count', n],
      ['replace', 'revision', n],
    ]);
    expect(record!.filter((p) => p.path[0] === 'tree')).toHaveLength(n);
    expect(canonicalJson(await new SnapshotStore(dir, 'kv').load())).toBe(canonicalJson(last));
  });

  it('object states: any mix of top-level, nested and root changes reloads to the last write', () =>
    historiesReplay<Obj>(objectStep, { a: 0 }));

  it('a member touched since its last `replace` keeps that replace where it was', async () => {
    const reloaded = await oneRecordOf<Obj>({ a: 0 }, [
      [{ a: { x: 1 } }, [{ op: 'replace', path: ['a'], value: { x: 1 } }]],
      [{ a: { x: 2 } }, [{ op: 'replace', path: ['a', 'x'], value: 2 }]],
      [{ a: 5 }, [{ op: 'replace', path: ['a'], value: 5 }]],
    ]);
    expect(reloaded).toEqual({ a: 5 });
  });

  it("an array's `length` is not coalesced: an element added between two cuts stays cut", async () => {
    // patches as a hand-written reducer (or an older immer) writes them: `length` replaced
    const reloaded = await oneRecordOf<number[]>(
      [1, 2, 3],
      [
        [[1], [{ op: 'replace', path: ['length'], value: 1 }]],
        [[1, 9], [{ op: 'add', path: [1], value: 9 }]],
        [[], [{ op: 'replace', path: ['length'], value: 0 }]],
      ],
    );
    expect(reloaded).toEqual([]);
  });

  it('array states: elements and length changed in one record reload to the last write', () =>
    historiesReplay<number[]>(arrayStep, [1, 2, 3]));
});
