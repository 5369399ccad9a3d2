/**
 * The replicated config store's state and its pure reducer. The keys live in 256 buckets (by
 * FNV-1a hash) so that an immer write copies one bucket and the small root, not the whole map:
 * a set on a 100,000-key store costs about as much as on a 400-key one.
 * @module
 */
import type { Draft } from 'immer';
import type { ApplyContext, MachineDefinition } from '../types.js';
import { ValueTooLargeError } from '../errors.js';

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

/** The store. */
export interface MapState {
  /** The store revision: bumped by every write that changed something. */
  readonly revision: number;
  readonly count: number;
  /** Sum of the entries' `size`. */
  readonly bytes: number;
  readonly buckets: Readonly<Record<string, Readonly<Record<string, MapEntry>>>>;
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

/** The one command of the store: an all-or-nothing transaction. */
export interface MapCommand {
  readonly compares: readonly MapCompare[];
  readonly ops: readonly MapOp[];
}

/** What a transaction returns. */
export interface MapResult {
  readonly succeeded: boolean;
  /** The store revision after the transaction. */
  readonly revision: number;
  /** The key whose compare failed. */
  readonly failed?: string;
}

/** Size limits. */
export interface MapLimits {
  /** Largest key, in UTF-8 bytes. @defaultValue 1024 */
  readonly maxKeyBytes: number;
  /** Largest value, in bytes of its JSON text (UTF-8). @defaultValue 65536 */
  readonly maxValueBytes: number;
  /** Largest store: sum of keys and JSON values in bytes. @defaultValue 64 MiB */
  readonly maxStoreBytes: number;
}

/** The default limits. */
export const DEFAULT_LIMITS: MapLimits = {
  maxKeyBytes: 1024,
  maxValueBytes: 64 * 1024,
  maxStoreBytes: 64 * 1024 * 1024,
};

/** The bucket of a key (FNV-1a, 256 buckets). */
export function bucketOf(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 0) & 0xff).toString(16);
}

/** The empty store. */
export function emptyMap(): MapState {
  return { revision: 0, count: 0, bytes: 0, buckets: {} };
}

/** Look a key up. */
export function getEntry(state: MapState, key: string): MapEntry | undefined {
  const b = state.buckets[bucketOf(key)];
  return b === undefined ? undefined : Object.hasOwn(b, key) ? b[key] : undefined;
}

/** Byte length of a string in UTF-8. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Check a key and value against `limits`; throws `ValueTooLargeError`. Returns the entry size.
 */
export function checkSizes(key: string, value: Json, limits: MapLimits): number {
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

function jsonEqual(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Whether a compare holds in `state`. */
export function compareHolds(state: MapState, c: MapCompare): boolean {
  const e = getEntry(state, c.key);
  if ('revision' in c) return (e?.revision ?? 0) === c.revision;
  if ('exists' in c) return (e !== undefined) === c.exists;
  return e !== undefined && jsonEqual(e.value, c.value);
}

/** Apply a transaction to a draft. Pure and deterministic; throws `ValueTooLargeError`. */
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
  cmd.ops.forEach((op, i) => {
    const bk = bucketOf(op.key);
    const bucket = draft.buckets[bk];
    const prev = bucket !== undefined && Object.hasOwn(bucket, op.key) ? bucket[op.key] : undefined;
    if (op.op === 'delete') {
      if (prev === undefined || bucket === undefined) return;
      bytes -= prev.size;
      count--;
      delete bucket[op.key];
      if (Object.keys(bucket).length === 0) delete draft.buckets[bk];
      changed = true;
      return;
    }
    const size = sizes[i]!;
    bytes += size - (prev?.size ?? 0);
    if (prev === undefined) count++;
    const entry: MapEntry = {
      value: op.value,
      revision: rev,
      createRevision: prev?.createRevision ?? rev,
      version: (prev?.version ?? 0) + 1,
      size,
    };
    if (bucket === undefined) draft.buckets[bk] = { [op.key]: entry };
    else bucket[op.key] = entry;
    changed = true;
  });
  if (bytes > limits.maxStoreBytes) {
    throw new ValueTooLargeError(
      `the store would hold ${bytes} bytes, over its limit of ${limits.maxStoreBytes} bytes`,
    );
  }
  if (!changed) return { succeeded: true, revision: draft.revision };
  draft.revision = rev;
  draft.bytes = bytes;
  draft.count = count;
  return { succeeded: true, revision: rev };
}

function isJsonish(v: unknown): boolean {
  return v === null || ['string', 'number', 'boolean', 'object'].includes(typeof v);
}

/** Whether `c` looks like a `MapCommand` (malformed commands count as failed). */
export function isMapCommand(c: unknown): c is MapCommand {
  if (typeof c !== 'object' || c === null) return false;
  const m = c as { compares?: unknown; ops?: unknown };
  if (!Array.isArray(m.compares) || !Array.isArray(m.ops)) return false;
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
    isCommand: isMapCommand,
  };
}
