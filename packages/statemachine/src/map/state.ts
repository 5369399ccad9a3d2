/**
 * The replicated config store's state and its pure reducer. The keys live in a fixed-depth
 * tree: three 16-way levels indexed by the hex digits of the key's FNV-1a hash, then leaves
 * (4096 of them) that map keys to entries. A write copies the path to one leaf (three
 * objects of at most 16 keys and a leaf of about keys/4096 entries), never a large object, so a
 * set costs about the same on a 100-key and on a 100,000-key store. A leaf is a `SortedRecord`
 * (keys and entries in sorted parallel arrays: cheap to copy), whose JSON, canonical JSON and
 * digest are those of the plain object `{ key: entry }` it was before; a state read from JSON
 * (a snapshot from a peer, a data directory) holds plain-object leaves, each replaced by a
 * `SortedRecord` at its first write. Both kinds are read alike (`getEntry`, `leafEntries`). Empty nodes are removed, so
 * the shape is a function of the set of keys: equal stores have equal canonical JSON (and
 * digests) whatever their history.
 *
 * Past 500 lines for now: the two reducers of a transaction (`applyTxn` under immer and
 * `reduceTxn`, the path copy the store applies with) must agree on every state and every
 * patch, and sit side by side; `reduceTxn` and its node helpers are the next file of their own.
 * @module
 */
import type { Draft, Patch } from 'immer';
import type { ApplyContext, MachineDefinition } from '../types.js';
import { InvalidKeyError, StoreFullError, ValueTooLargeError } from '../errors.js';
import { canonicalJson } from '../canonical.js';
import { SortedRecord } from '../sorted-record.js';

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One key's entry. */
export interface MapEntry {
  readonly value: Json;
  /** The store revision of the last write to this key. */
  readonly revision: number;
  /** The store revision that created the key (reset when deleted and set again). */
  readonly createRevision: number;
  /** Writes since creation (1 after the first set). */
  readonly version: number;
  /** Bytes of key plus JSON value (counted against the store limit). */
  readonly size: number;
}

/** A leaf of the store's tree: keys to entries, sorted (see `SortedRecord`). */
export type MapLeaf = SortedRecord<MapEntry>;

/**
 * A leaf as JSON: how leaves are in a state read from JSON (a snapshot, a data directory)
 * until their first write makes them a `MapLeaf`.
 */
export type MapPlainLeaf = Readonly<Record<string, MapEntry>>;

/**
 * A 16-way level of the store's tree, indexed by one hex digit of the key hash. A digit may be
 * listed with `undefined` (no child: levels keep all 16 members, see `copyLevel`); JSON and
 * the digest skip it.
 */
export type MapFanout<T> = Readonly<Record<string, T | undefined>>;

/** The store's tree: three 16-way levels, then leaves (see `pathOf`). */
export type MapTree = MapFanout<MapFanout<MapFanout<MapLeaf | MapPlainLeaf>>>;

/** The store. Immutable: replaced, never modified, by every write. */
export interface MapState {
  /** The store revision: bumped by every write that changed something. */
  readonly revision: number;
  readonly count: number;
  /** Sum of the entries' `size`. */
  readonly bytes: number;
  /** The entries, in a tree keyed by `pathOf(key)`. Empty nodes are absent. */
  readonly tree: MapTree;
}

/** A condition of a transaction. All must hold for its ops to be applied. */
export type MapCompare =
  /** The key's `revision` equals this (0: the key must be absent). */
  | { readonly key: string; readonly revision: number }
  /** The key exists (true) or not (false). */
  | { readonly key: string; readonly exists: boolean }
  /** The key's value equals this (canonical JSON comparison). */
  | { readonly key: string; readonly value: Json };

/** A write of a transaction. */
export type MapOp =
  | { readonly op: 'set'; readonly key: string; readonly value: Json }
  | { readonly op: 'delete'; readonly key: string };

/**
 * The one command of the store: an all-or-nothing transaction. A transaction with no compares
 * and no ops changes nothing (no revision bump): with `barrier` set, it is the read barrier of
 * a linearizable read (see `ReplicatedMap.sync`), which names it so that its sender can find
 * the state at its place in the log.
 */
export interface MapCommand {
  readonly compares: readonly MapCompare[];
  readonly ops: readonly MapOp[];
  /** A read barrier's id (unique per barrier); only on a transaction without compares or ops. */
  readonly barrier?: string;
}

/** What a transaction returns. */
export interface MapResult {
  readonly succeeded: boolean;
  /** The store revision after the transaction. */
  readonly revision: number;
  /** The key whose compare failed. */
  readonly failed?: string;
}

/**
 * Size limits. Every replica of a store must use the same: a write is checked in the
 * replicated apply, and replicas with other limits would decide it differently. The store
 * limits also bound the JSON text of the whole store, which a sync transfers and a snapshot
 * writes as one string (V8 caps a string at about 512 Mi characters): with the defaults it
 * stays under about 460 Mi characters (256 MiB of keys and values, and about 100 characters of
 * entry fields and punctuation per key), unless keys need many JSON escapes.
 */
export interface MapLimits {
  /** Largest key, in UTF-8 bytes. @defaultValue 1024 */
  readonly maxKeyBytes: number;
  /** Largest value, in bytes of its JSON text (UTF-8). @defaultValue 65536 */
  readonly maxValueBytes: number;
  /**
   * Largest store: sum of keys and JSON values in bytes; a write past it is refused with
   * `StoreFullError`. @defaultValue 256 MiB
   */
  readonly maxStoreBytes: number;
  /**
   * Most keys the store holds; a write that would create one more is refused with
   * `StoreFullError`. @defaultValue 2,000,000
   */
  readonly maxKeys: number;
}

/** The default limits. */
export const DEFAULT_LIMITS: MapLimits = {
  maxKeyBytes: 1024,
  maxValueBytes: 64 * 1024,
  maxStoreBytes: 256 * 1024 * 1024,
  maxKeys: 2_000_000,
};

const HEX = '0123456789abcdef';

/** FNV-1a (32 bits) of the key's UTF-16 code units. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The tree path of a key: the three hex digits (levels 1, 2, 3) of its FNV-1a hash. */
export function pathOf(key: string): readonly [string, string, string] {
  const h = hashOf(key);
  return [HEX[h & 15]!, HEX[(h >>> 4) & 15]!, HEX[(h >>> 8) & 15]!];
}

/** The empty store. */
export function emptyMap(): MapState {
  return { revision: 0, count: 0, bytes: 0, tree: {} };
}

/** The entry of `key` in a leaf of either kind. */
function leafGet(leaf: MapLeaf | MapPlainLeaf, key: string): MapEntry | undefined {
  if (leaf instanceof SortedRecord) return leaf.get(key);
  return Object.hasOwn(leaf, key) ? leaf[key] : undefined;
}

/** A leaf of either kind as a `MapLeaf` (a plain one sorted into a new record). */
export function asMapLeaf(leaf: MapLeaf | MapPlainLeaf): MapLeaf {
  return leaf instanceof SortedRecord ? leaf : SortedRecord.from(leaf);
}

const EMPTY_LEAF: MapLeaf = new SortedRecord<MapEntry>([], []);

/** Look a key up. */
export function getEntry(state: MapState, key: string): MapEntry | undefined {
  const h = hashOf(key);
  const leaf = state.tree[HEX[h & 15]!]?.[HEX[(h >>> 4) & 15]!]?.[HEX[(h >>> 8) & 15]!];
  return leaf === undefined ? undefined : leafGet(leaf, key);
}

/** Call `fn` for every entry of the store, in no particular order. */
export function forEachEntry(state: MapState, fn: (key: string, entry: MapEntry) => void): void {
  // a level may list a digit whose child is `undefined` (see `copyLevel`)
  for (const l1 of Object.values(state.tree)) {
    if (l1 === undefined) continue;
    for (const l2 of Object.values(l1)) {
      if (l2 === undefined) continue;
      for (const leaf of Object.values(l2)) {
        if (leaf === undefined) continue;
        if (leaf instanceof SortedRecord) {
          for (let i = 0; i < leaf.keys.length; i++) fn(leaf.keys[i]!, leaf.values[i]!);
        } else for (const key in leaf) fn(key, leaf[key]!);
      }
    }
  }
}

/**
 * The leaves that differ between two stores, as `[before, after]` pairs (empty where absent).
 * Subtrees shared by both (same object) are skipped, so after a few writes this costs
 * O(changes), not O(store).
 */
export function changedLeaves(a: MapState, b: MapState): [MapLeaf, MapLeaf][] {
  const out: [MapLeaf, MapLeaf][] = [];
  const walk = (x: MapFanout<unknown>, y: MapFanout<unknown>, depth: number): void => {
    if (x === y) return;
    for (const d of new Set([...Object.keys(x), ...Object.keys(y)])) {
      const cx = Object.hasOwn(x, d) ? x[d] : undefined;
      const cy = Object.hasOwn(y, d) ? y[d] : undefined;
      if (cx === cy) continue;
      if (depth === 2) {
        const lx = cx === undefined ? EMPTY_LEAF : asMapLeaf(cx as MapLeaf | MapPlainLeaf);
        const ly = cy === undefined ? EMPTY_LEAF : asMapLeaf(cy as MapLeaf | MapPlainLeaf);
        out.push([lx, ly]);
      } else walk((cx ?? {}) as MapFanout<unknown>, (cy ?? {}) as MapFanout<unknown>, depth + 1);
    }
  };
  walk(a.tree, b.tree, 0);
  return out;
}

/** Byte length of a string in UTF-8. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Check a key and value against `limits`; throws `ValueTooLargeError`, or `InvalidKeyError`
 * for `__proto__` (assigning it would replace a leaf's prototype on every replica instead of
 * storing a key). Runs on the client and again in the replicated apply, so a command from a
 * member that skipped the check fails identically everywhere. Returns the entry size.
 */
export function checkSizes(key: string, value: Json, limits: MapLimits): number {
  if (key === '__proto__') throw new InvalidKeyError(`'__proto__' cannot be used as a key`);
  const k = utf8Length(key);
  if (k === 0) throw new ValueTooLargeError('keys must not be empty');
  if (k > limits.maxKeyBytes) {
    throw new ValueTooLargeError(
      `key of ${k} bytes exceeds the limit of ${limits.maxKeyBytes} bytes`,
    );
  }
  const text = JSON.stringify(value);
  if (text === undefined) throw new ValueTooLargeError('value is not JSON');
  const v = utf8Length(text);
  if (v > limits.maxValueBytes) {
    throw new ValueTooLargeError(
      `value of ${v} bytes for key '${key}' exceeds the limit of ${limits.maxValueBytes} bytes`,
    );
  }
  return k + v;
}

/**
 * Throws `StoreFullError` when a store of `count` keys and `bytes` bytes (after a
 * transaction) is over `limits.maxKeys` or `limits.maxStoreBytes`.
 */
function checkStoreLimits(count: number, bytes: number, limits: MapLimits): void {
  if (count > limits.maxKeys) {
    throw new StoreFullError(
      `the store would hold ${count} keys, over its limit of ${limits.maxKeys} keys (maxKeys)`,
    );
  }
  if (bytes > limits.maxStoreBytes) {
    throw new StoreFullError(
      `the store would hold ${bytes} bytes, over its limit of ${limits.maxStoreBytes} bytes (maxStoreBytes)`,
    );
  }
}

/** The entry a `set` of `value` at revision `rev` leaves where `prev` was (or nothing). */
function nextEntry(prev: MapEntry | undefined, value: Json, rev: number, size: number): MapEntry {
  return {
    value,
    revision: rev,
    createRevision: prev?.createRevision ?? rev,
    version: (prev?.version ?? 0) + 1,
    size,
  };
}

/** Equal as JSON values: object keys in any order, array items in order. */
function jsonEqual(a: Json, b: Json): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Whether a compare holds in `state`. */
export function compareHolds(state: MapState, c: MapCompare): boolean {
  const e = getEntry(state, c.key);
  if ('revision' in c) return (e?.revision ?? 0) === c.revision;
  if ('exists' in c) return (e !== undefined) === c.exists;
  return e !== undefined && jsonEqual(e.value, c.value);
}

/**
 * Apply a transaction to a draft. Pure and deterministic; throws `ValueTooLargeError`,
 * `InvalidKeyError` or `StoreFullError`.
 */
export function applyTxn(draft: Draft<MapState>, cmd: MapCommand, limits: MapLimits): MapResult {
  const base = draft as unknown as MapState;
  for (const c of cmd.compares) {
    if (!compareHolds(base, c))
      return { succeeded: false, revision: draft.revision, failed: c.key };
  }
  const rev = draft.revision + 1;
  let changed = false;
  let bytes = draft.bytes;
  let count = draft.count;
  const sizes = cmd.ops.map((op) => (op.op === 'set' ? checkSizes(op.key, op.value, limits) : 0));
  type Level = Record<string, Record<string, unknown>>;
  cmd.ops.forEach((op, i) => {
    const [d1, d2, d3] = pathOf(op.key);
    const root = draft.tree as unknown as Level;
    const n1 = Object.hasOwn(root, d1) ? (root[d1] as Level) : undefined;
    const n2 = n1 !== undefined && Object.hasOwn(n1, d2) ? (n1[d2] as Level) : undefined;
    const found = n2 !== undefined && Object.hasOwn(n2, d3) ? n2[d3] : undefined;
    // a `MapLeaf` is not drafted by immer (a class instance): it is replaced, not modified
    const sorted = found instanceof SortedRecord ? (found as MapLeaf) : undefined;
    const leaf = sorted === undefined ? (found as Record<string, MapEntry> | undefined) : undefined;
    const prev =
      sorted !== undefined
        ? sorted.get(op.key)
        : leaf !== undefined && Object.hasOwn(leaf, op.key)
          ? leaf[op.key]
          : undefined;
    if (op.op === 'delete') {
      if (prev === undefined) return;
      bytes -= prev.size;
      count--;
      let emptied: boolean;
      if (sorted !== undefined) {
        const rest = sorted.delete(op.key);
        n2![d3] = rest as unknown as Record<string, unknown>;
        emptied = rest.size === 0;
      } else {
        delete leaf![op.key];
        emptied = isEmpty(leaf!);
      }
      // drop emptied nodes, so that the tree's shape depends on its keys only
      if (emptied) {
        delete n2![d3];
        if (levelEmpty(n2!)) {
          delete n1![d2];
          if (levelEmpty(n1!)) delete root[d1];
        }
      }
      changed = true;
      return;
    }
    const size = sizes[i]!;
    bytes += size - (prev?.size ?? 0);
    if (prev === undefined) count++;
    const entry = nextEntry(prev, op.value, rev, size);
    if (sorted !== undefined)
      n2![d3] = sorted.set(op.key, entry) as unknown as Record<string, unknown>;
    else if (leaf !== undefined) leaf[op.key] = entry;
    else if (n2 !== undefined) n2[d3] = { [op.key]: entry };
    else if (n1 !== undefined) n1[d2] = { [d3]: { [op.key]: entry } };
    else root[d1] = { [d2]: { [d3]: { [op.key]: entry } } };
    changed = true;
  });
  checkStoreLimits(count, bytes, limits);
  if (!changed) return { succeeded: true, revision: draft.revision };
  draft.revision = rev;
  draft.bytes = bytes;
  draft.count = count;
  return { succeeded: true, revision: rev };
}

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
    const prev = leaf?.get(op.key);
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
    w2[d3] = leaf === undefined ? new SortedRecord([op.key], [entry]) : leaf.set(op.key, entry);
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

function isEmpty(o: object): boolean {
  return Object.keys(o).length === 0;
}

/** A level with no child (its digits may be listed, `undefined`: see `copyLevel`). */
function levelEmpty(o: Node): boolean {
  for (const k in o) if (o[k] !== undefined) return false;
  return true;
}

function isJsonish(v: unknown): boolean {
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'object';
}

/** Whether `c` looks like a `MapCommand` (malformed commands count as failed). */
export function isMapCommand(c: unknown): c is MapCommand {
  if (typeof c !== 'object' || c === null) return false;
  const m = c as { compares?: unknown; ops?: unknown; barrier?: unknown };
  if (!Array.isArray(m.compares) || !Array.isArray(m.ops)) return false;
  if (m.barrier !== undefined && typeof m.barrier !== 'string') return false;
  for (const op of m.ops as unknown[]) {
    if (typeof op !== 'object' || op === null) return false;
    const o = op as { op?: unknown; key?: unknown; value?: unknown };
    if (typeof o.key !== 'string') return false;
    if (o.op === 'set' ? !isJsonish(o.value) : o.op !== 'delete') return false;
  }
  for (const cmp of m.compares as unknown[]) {
    if (
      typeof cmp !== 'object' ||
      cmp === null ||
      typeof (cmp as { key?: unknown }).key !== 'string'
    )
      return false;
  }
  return true;
}

/**
 * The store as a `MachineDefinition`.
 * @param name - the machine name on the wire and on disk
 * @param limits - size limits (every member must use the same)
 */
export function mapDefinition(
  name: string,
  limits: MapLimits = DEFAULT_LIMITS,
): MachineDefinition<MapState, MapCommand, MapResult> {
  return {
    name,
    initial: emptyMap,
    apply: (draft: Draft<MapState>, cmd: MapCommand, _ctx: ApplyContext) =>
      applyTxn(draft, cmd, limits),
    reduce: (state: MapState, cmd: MapCommand, _ctx: ApplyContext, patches?: Patch[]) =>
      reduceTxn(state, cmd, limits, patches),
    isCommand: isMapCommand,
  };
}
