/**
 * Where a `ReplicatedMap` write spends its CPU: the cost of one `set` applied with immer, as
 * the machine applies it (`produce` + deep auto-freeze of the result), at several store sizes.
 *
 * It compares the store's layout (`src/map/state.ts`: a tree of three 16-way levels, 4096
 * leaves) with the layout it replaced (one object of 256 buckets, implemented only here), each
 * with immer's auto-freeze on and off (the machine runs with it off), to show which part costs
 * what: copying a large object with `{ ...base }` (V8 dictionary-mode objects above ~128 keys)
 * and the deep freeze walking every child of the copied objects.
 *
 * ```sh
 * pnpm exec tsx --conditions=@cpgkit/source packages/statemachine/bench/apply.ts
 * ```
 * @module
 */
import { Immer, freeze, type Draft } from 'immer';
import {
  mapDefinition,
  type ApplyContext,
  type MapCommand,
  type MapOp,
  type MapState,
} from '../src/index.js';

const ctx = {} as ApplyContext;
const def = mapDefinition('bench');

function value(i: number): { n: number; pad: string } {
  return { n: i, pad: 'abcdefghijklmnopqrstuvwx' };
}

function cmd(key: string, i: number): MapCommand {
  return { compares: [], ops: [{ op: 'set', key, value: value(i) }] };
}

/** The store's own layout and reducer. */
function currentLayout(im: Immer, keys: number): (i: number) => void {
  let state = freeze((def.initial as () => MapState)(), true);
  const ops: MapOp[] = [];
  for (let i = 0; i < keys; i++) ops.push({ op: 'set' as const, key: `k/${i}`, value: value(i) });
  state = im.produce(state, (d: Draft<MapState>) => {
    def.apply(d, { compares: [], ops }, ctx);
  });
  return (i) => {
    state = im.produce(state, (d: Draft<MapState>) => {
      def.apply(d, cmd(`k/${(i * 7919) % keys}`, i), ctx);
    });
  };
}

/** The layout before the tree (one object of 256 FNV buckets), kept here for comparison. */
interface Buckets {
  revision: number;
  buckets: Record<string, Record<string, unknown>>;
}

function fnv(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function bucketSet(d: Draft<Buckets>, key: string, v: unknown): void {
  const rev = d.revision + 1;
  const bk = (fnv(key) & 0xff).toString(16);
  const b = (d.buckets[bk] ??= {});
  const prev = b[key] as { createRevision: number; version: number } | undefined;
  b[key] = {
    value: v,
    revision: rev,
    createRevision: prev?.createRevision ?? rev,
    version: (prev?.version ?? 0) + 1,
    size: 40,
  };
  d.revision = rev;
}

function bucketLayout(im: Immer, keys: number): (i: number) => void {
  let state = freeze<Buckets>({ revision: 0, buckets: {} }, true);
  state = im.produce(state, (d) => {
    for (let i = 0; i < keys; i++) bucketSet(d, `k/${i}`, value(i));
  });
  return (i) => {
    state = im.produce(state, (d) => bucketSet(d, `k/${(i * 7919) % keys}`, value(i)));
  };
}

/** CPU µs per call of `step`, over `n` calls (after a warm-up). */
function measure(step: (i: number) => void, n: number): number {
  for (let i = 0; i < 500; i++) step(i);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) step(i);
  const c = process.cpuUsage(c0);
  return Math.round(((c.user + c.system) / n) * 10) / 10;
}

const frozen = new Immer({ autoFreeze: true });
const unfrozen = new Immer({ autoFreeze: false });
const sizes = [1_000, 10_000, 100_000];
const rows: Record<string, number | string>[] = [];
for (const keys of sizes) {
  const n = 5000;
  const buckets256 = measure(bucketLayout(frozen, keys), n);
  const buckets256NoFreeze = measure(bucketLayout(unfrozen, keys), n);
  const tree = measure(currentLayout(frozen, keys), n);
  const treeNoFreeze = measure(currentLayout(unfrozen, keys), n);
  rows.push({ keys, buckets256, buckets256NoFreeze, tree, treeNoFreeze });
  console.log(
    `${keys.toLocaleString('en').padStart(7)} keys: one set applied = ${treeNoFreeze} µs CPU as shipped ` +
      `(16×16×16 tree, no auto-freeze), ${tree} µs with auto-freeze; ` +
      `old 256-bucket layout: ${buckets256} µs, ${buckets256NoFreeze} µs without auto-freeze ` +
      `(×${Math.round((buckets256 / treeNoFreeze) * 10) / 10})`,
  );
}
console.log(JSON.stringify({ bench: 'statemachine/apply', unit: 'µs CPU per set', rows }));
