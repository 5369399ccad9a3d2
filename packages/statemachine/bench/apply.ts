/**
 * Where a `ReplicatedMap` write spends its CPU: the cost of one `set` applied with immer, as
 * the machine applies it (`produce` + deep auto-freeze of the result), at several store sizes.
 *
 * It compares the store's layout (`src/map/state.ts`: one object of 256 buckets) with
 * prototypes of trees of 16-way levels (256 and 4096 leaves) that only this file implements,
 * and the same apply with immer's auto-freeze off, to show which part costs what:
 * copying a large object with `{ ...base }` (V8 dictionary-mode objects above ~128 keys) and
 * the deep freeze walking every child of the copied objects.
 *
 * ```sh
 * pnpm exec tsx --conditions=@cpgkit/source packages/statemachine/bench/apply.ts
 * ```
 * @module
 */
import { freeze, produce, setAutoFreeze, type Draft } from 'immer';
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
function currentLayout(keys: number): (i: number) => void {
  let state = freeze((def.initial as () => MapState)(), true);
  const ops: MapOp[] = [];
  for (let i = 0; i < keys; i++) ops.push({ op: 'set' as const, key: `k/${i}`, value: value(i) });
  state = produce(state, (d: Draft<MapState>) => {
    def.apply(d, { compares: [], ops }, ctx);
  });
  return (i) => {
    state = produce(state, (d: Draft<MapState>) => {
      def.apply(d, cmd(`k/${(i * 7919) % keys}`, i), ctx);
    });
  };
}

/**
 * A prototype: a tree of `levels` levels of 16 (FNV-1a, one hex digit per level), so that no
 * object holds more than 16 children except the leaves (keys / 16^levels on average).
 */
interface Tree {
  revision: number;
  root: Record<string, unknown>;
}

function fnv(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function treeSet(d: Draft<Tree>, levels: number, key: string, v: unknown): void {
  const h = fnv(key);
  const rev = d.revision + 1;
  let node = d.root as Record<string, unknown>;
  for (let l = 0; l < levels; l++) {
    const digit = ((h >>> (4 * l)) & 15).toString(16);
    node = (node[digit] ??= {}) as Record<string, unknown>;
  }
  node[key] = { value: v, revision: rev };
  d.revision = rev;
}

function treeLayout(levels: number, keys: number): (i: number) => void {
  let state = freeze<Tree>({ revision: 0, root: {} }, true);
  state = produce(state, (d) => {
    for (let i = 0; i < keys; i++) treeSet(d, levels, `k/${i}`, value(i));
  });
  return (i) => {
    state = produce(state, (d) => treeSet(d, levels, `k/${(i * 7919) % keys}`, value(i)));
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

const sizes = [1_000, 10_000, 100_000];
const rows: Record<string, number | string>[] = [];
for (const keys of sizes) {
  const n = 5000;
  setAutoFreeze(true);
  const current = measure(currentLayout(keys), n);
  const tree2 = measure(treeLayout(2, keys), n);
  const tree3 = measure(treeLayout(3, keys), n);
  setAutoFreeze(false);
  const currentNoFreeze = measure(currentLayout(keys), n);
  setAutoFreeze(true);
  rows.push({ keys, current, currentNoFreeze, tree16x16: tree2, tree16x16x16: tree3 });
  console.log(
    `${keys.toLocaleString('en').padStart(7)} keys: one set applied = ${current} µs CPU (256 buckets, as shipped), ` +
      `${currentNoFreeze} µs without auto-freeze; prototypes: ${tree2} µs with 16×16 buckets, ${tree3} µs with 16×16×16`,
  );
}
console.log(JSON.stringify({ bench: 'statemachine/apply', unit: 'µs CPU per set', rows }));
