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
 * `reduceTxn` (reduce-txn.ts) is the path copy the store applies with; `applyTxn` here is its
 * reference under immer, and the two must agree on every state and every patch
 * (map-reduce.test.ts, map-leaf-layout.test.ts). The store as a `MachineDefinition` is
 * definition.ts.
 * @module
 */
import type { Draft } from 'immer';
import { InvalidKeyError, StoreFullError, ValueTooLargeError } from '../errors.js';
import { canonicalJson } from '../canonical.js';
import { SortedRecord } from '../sorted-record.js';
import { jsonByteLength } from './json-size.js';

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

/** The hex digits that name a level's children. */
export const HEX = '0123456789abcdef';

/** FNV-1a (32 bits) of the key's UTF-16 code units. */
export function hashOf(key: string): number {
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
  // a short ASCII string (a key) is counted here: `Buffer.byteLength` is a call into C++
  if (s.length > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < s.length; i++)
    if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return s.length;
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
  // counted without building the text; anything but plain JSON data is stringified
  let v = jsonByteLength(value);
  if (v < 0) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new ValueTooLargeError('value is not JSON');
    v = utf8Length(text);
  }
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
export function checkStoreLimits(count: number, bytes: number, limits: MapLimits): void {
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
export function nextEntry(
  prev: MapEntry | undefined,
  value: Json,
  rev: number,
  size: number,
): MapEntry {
  // members in sorted order: a leaf's JSON is then its canonical JSON, which lets a sync
  // target hash a leaf's text as it came instead of serialising it (piece-digest.ts)
  return {
    createRevision: prev?.createRevision ?? rev,
    revision: rev,
    size,
    value,
    version: (prev?.version ?? 0) + 1,
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

function isEmpty(o: object): boolean {
  return Object.keys(o).length === 0;
}

/** A level with no child (its digits may be listed, `undefined`: see `copyLevel`). */
export function levelEmpty(o: Record<string, unknown>): boolean {
  for (const k in o) if (o[k] !== undefined) return false;
  return true;
}
