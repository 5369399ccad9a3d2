/**
 * `reduceTxn`: the config store's transaction without immer, the path copy every replica
 * applies a write with (see state.ts for the tree, and `applyTxn` there, its reference under
 * immer: the two must agree on every state and every patch).
 * @module
 */
import type { Patch } from 'immer';
import { SortedRecord } from '../sorted-record.js';
import {
  HEX,
  asMapLeaf,
  checkSizes,
  checkStoreLimits,
  compareHolds,
  hashOf,
  levelEmpty,
  nextEntry,
  type MapCommand,
  type MapLeaf,
  type MapLimits,
  type MapPlainLeaf,
  type MapResult,
  type MapState,
  type MapTree,
} from './state.js';

type Node = Record<string, unknown>;

/**
 * The child of a level at hex digit `k`. A plain read, as in `getEntry`: no `Object.prototype`
 * member is named by a hex digit, so a level read from JSON (with a prototype) answers only
 * its own digits (an `Object.hasOwn` per level was 5% of a set's CPU).
 */
function at(o: Node | undefined, k: string): Node | undefined {
  return o === undefined ? undefined : (o[k] as Node | undefined);
}

/**
 * A copy of a 16-way level as an object literal that lists all 16 digits, `undefined` where a
 * child is absent: every level then has one hidden class, so this costs about 0.1 µs where a
 * key-by-key copy of a prototype-less object costs 3-5 µs. JSON and the
 * digest skip `undefined` members, so the store's JSON is the same as with absent keys.
 */
function copyLevel(n: Node | undefined): Node {
  if (n === undefined) return { ...EMPTY_LEVEL };
  return {
    0: n[0],
    1: n[1],
    2: n[2],
    3: n[3],
    4: n[4],
    5: n[5],
    6: n[6],
    7: n[7],
    8: n[8],
    9: n[9],
    a: n.a,
    b: n.b,
    c: n.c,
    d: n.d,
    e: n.e,
    f: n.f,
  };
}

const EMPTY_LEVEL: Node = copyLevel({});

/**
 * `node` itself when this transaction copied it already (`own`), else a copy of it (see
 * `copyLevel`). A transaction of one op copies every level it writes once anyway: it keeps no
 * `own` set.
 */
function writableLevel(own: Set<Node> | undefined, node: Node | undefined): Node {
  if (own === undefined) return copyLevel(node);
  if (node !== undefined && own.has(node)) return node;
  const c = copyLevel(node);
  own.add(c);
  return c;
}

/**
 * `applyTxn` without immer: the same transaction, as a pure function that copies the path to
 * every leaf it writes (each node at most once per transaction) and returns the next state.
 * Same result, same next state as JSON, same errors (thrown before anything is built).
 *
 * Levels are copied as object literals of 16 members (`copyLevel`); a written leaf becomes a
 * new `MapLeaf` (two array copies; a plain-object leaf read from JSON is sorted into one). A
 * spread (`{ ...leaf }`, what immer does) of an object keyed by arbitrary strings builds a new
 * hidden class per key order and costs 10-25 µs for a 16-key node on this machine, a
 * member-by-member copy into a prototype-less object 1-3 µs, a `MapLeaf` copy about 0.15 µs.
 * JSON and the digest see the same members either way.
 *
 * @param patches - when given, immer-format patches from `state` to the result are pushed
 *   onto it (for the journal)
 */
export function reduceTxn(
  state: MapState,
  cmd: MapCommand,
  limits: MapLimits,
  patches?: Patch[],
): { state: MapState; result: MapResult } {
  for (const c of cmd.compares) {
    if (!compareHolds(state, c))
      return { state, result: { succeeded: false, revision: state.revision, failed: c.key } };
  }
  const ops = cmd.ops;
  // every size is checked before anything is built (a single op's alone: no array)
  const single = ops.length === 1;
  const only = single && ops[0]!.op === 'set' ? checkSizes(ops[0]!.key, ops[0]!.value, limits) : 0;
  const sizes = single
    ? undefined
    : ops.map((op) => (op.op === 'set' ? checkSizes(op.key, op.value, limits) : 0));
  const rev = state.revision + 1;
  let bytes = state.bytes;
  let count = state.count;
  // nodes copied by this transaction: written in place from then on (several ops only)
  const own = single ? undefined : new Set<Node>();
  let root: Node | undefined;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const h = hashOf(op.key);
    const d1 = HEX[h & 15]!;
    const d2 = HEX[(h >>> 4) & 15]!;
    const d3 = HEX[(h >>> 8) & 15]!;
    const r0 = root ?? state.tree;
    const n1 = at(r0, d1);
    const n2 = at(n1, d2);
    const found = at(n2, d3) as MapLeaf | MapPlainLeaf | undefined;
    const leaf = found === undefined ? undefined : asMapLeaf(found);
    // one search of the leaf for the old entry and the new one's place (`setAt`)
    const pos = leaf === undefined ? -1 : leaf.find(op.key);
    const prev = pos < 0 ? undefined : leaf!.values[pos];
    if (op.op === 'delete') {
      if (prev === undefined) continue;
      bytes -= prev.size;
      count--;
      // drop emptied nodes, so that the tree's shape depends on its keys only
      const r = (root = writableLevel(own, r0));
      const w1 = writableLevel(own, n1);
      r[d1] = w1;
      const w2 = writableLevel(own, n2);
      w1[d2] = w2;
      const wl = leaf!.delete(op.key);
      w2[d3] = wl;
      let removed: string[] = ['tree', d1, d2, d3, op.key];
      // a level keeps its 16 members: an emptied child becomes `undefined` (see `copyLevel`)
      if (wl.size === 0) {
        w2[d3] = undefined;
        removed = ['tree', d1, d2, d3];
        if (levelEmpty(w2)) {
          w1[d2] = undefined;
          removed = ['tree', d1, d2];
          if (levelEmpty(w1)) {
            r[d1] = undefined;
            removed = ['tree', d1];
          }
        }
      }
      patches?.push({ op: 'remove', path: removed });
      continue;
    }
    const size = sizes === undefined ? only : sizes[i]!;
    bytes += size - (prev?.size ?? 0);
    if (prev === undefined) count++;
    const entry = nextEntry(prev, op.value, rev, size);
    const r = (root = writableLevel(own, r0));
    const w1 = writableLevel(own, n1);
    r[d1] = w1;
    const w2 = writableLevel(own, n2);
    w1[d2] = w2;
    w2[d3] =
      leaf === undefined ? new SortedRecord([op.key], [entry]) : leaf.setAt(pos, op.key, entry);
    if (patches !== undefined) {
      // immer's shape: one `add` of the highest node that did not exist. The value is built
      // apart from the tree's nodes: a later op of this transaction may still change those.
      const k = op.key;
      if (n1 === undefined)
        patches.push({ op: 'add', path: ['tree', d1], value: { [d2]: { [d3]: { [k]: entry } } } });
      else if (n2 === undefined)
        patches.push({ op: 'add', path: ['tree', d1, d2], value: { [d3]: { [k]: entry } } });
      else if (leaf === undefined)
        patches.push({ op: 'add', path: ['tree', d1, d2, d3], value: { [k]: entry } });
      else
        patches.push({
          op: prev === undefined ? 'add' : 'replace',
          path: ['tree', d1, d2, d3, k],
          value: entry,
        });
    }
  }
  checkStoreLimits(count, bytes, limits);
  if (root === undefined) return { state, result: { succeeded: true, revision: state.revision } };
  patches?.push(
    { op: 'replace', path: ['revision'], value: rev },
    { op: 'replace', path: ['count'], value: count },
    { op: 'replace', path: ['bytes'], value: bytes },
  );
  return {
    state: { revision: rev, count, bytes, tree: root as unknown as MapTree },
    result: { succeeded: true, revision: rev },
  };
}
