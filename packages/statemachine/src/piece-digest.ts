/**
 * The digest of a snapshot piece from the bytes it came in, instead of from serialising it
 * again: a target of a sync hashes the text of a whole piece (a line's value, snapshot-text.ts)
 * as it received it, parses that same text, and fills the digest cache (canonical.ts) of the
 * parsed object with the hash. Re-serialising 15 MB of a 100,000-key store to hash it was
 * the largest part of a joiner's CPU.
 *
 * Why a target that uses these digests never accepts a state other than the leader's:
 * - What the target checks does not change: before using a snapshot, it compares the digest
 *   of the whole image (`imageDigest`, a Merkle tree: canonical.ts) with the digest the
 *   leader sent, and refuses the snapshot when they differ (sync-round.ts, nothing applied).
 * - A cached digest stands for its object in the text its parent hashes (`<digest>`). The
 *   root's digest matches, so (barring a sha256 collision) the root's text is the leader's
 *   byte for byte, and so is, level by level, every digest in it. At a piece whose digest came
 *   from here: sha256(received bytes) equals the leader's digest of the object at that place,
 *   which is sha256 of the leader's Merkle text of it, so the received bytes ARE that text.
 *   They parsed as JSON, so that text holds no `<digest>` of a nested object: it is the
 *   canonical JSON of the leader's object, and the target's object, parsed from exactly those
 *   bytes, is that object as JSON. Whatever else the bytes might have been (reordered keys,
 *   whitespace, a duplicated key, `\u0041` for `A`, a number written `1.0`, bytes that are
 *   not UTF-8) gives another hash, a root that does not match, and a refusal.
 * - The bytes hashed are the ones parsed: a line's value, found by a strict scan of its
 *   prefix (`[depth,"key",`) and decoded from the same bytes; a line is whole before it is
 *   read, whatever segments and chunks it came in, so a piece split anywhere hashes alike.
 * - A member named `__proto__` is an own member of the parsed object (JSON.parse and
 *   snapshot-text.ts make it so), as it is a member in the canonical text.
 * - A digest is filled only for a fresh object of the image being read; a refused image is
 *   dropped with its objects (the cache holds them weakly), so a wrong digest can never be
 *   seen by a state in use.
 *
 * So this is only about speed: a piece whose text is not canonical (a leader that writes
 * object members in an order that is not sorted, a nested object large enough to be
 * digested on its own) would be refused, so `textDigestOf` hashes the bytes only when the
 * parsed value looks canonical (members in sorted order, nothing nested that canonical.ts
 * digests on its own); else the caller digests the piece by serialising it as before.
 * @module
 */
import { createHash } from 'node:crypto';
import type { SortedRecord } from './sorted-record.js';

/** canonical.ts digests an object or array on its own from this many members (`SUMMARIZE_AT`). */
const SUMMARIZE_AT = 16;

/**
 * sha256 (hex) of `text` when `value`, parsed from exactly `text`, is an object or array that
 * canonical.ts digests on its own (at least 16 members) and whose canonical JSON the text
 * would be if written canonically: object members in sorted order (UTF-16 code units, as
 * canonical.ts sorts them), no object or array nested in it with 16 members or more.
 * `undefined` otherwise (then the piece is digested by serialising it). See the module's doc
 * for why a wrong guess can only make the snapshot refused, never accepted.
 */
export function textDigestOf(value: object, text: Uint8Array): string | undefined {
  const n = Array.isArray(value) ? value.length : sortedMembers(value as Record<string, unknown>);
  if (n < SUMMARIZE_AT) return undefined;
  if (!nestedCanonical(value)) return undefined;
  return bytesDigest(text);
}

/** sha256 (hex) of `text`: a piece's digest when its text is its canonical JSON. */
export function bytesDigest(text: Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Whether the text a record was read from (record-text.ts), when it listed the members in the
 * record's order (`RecordRead.inOrder`), is the record's canonical JSON as canonical.ts
 * digests it on its own: at least 16 members, no object or array in its values with 16
 * members or more, objects in sorted order. Then that text's `bytesDigest` is its digest (the
 * module's doc says why a wrong guess can only make the snapshot refused).
 */
export function recordTextCanonical(record: SortedRecord<unknown>): boolean {
  const values = record.values;
  if (values.length < SUMMARIZE_AT) return false;
  for (let i = 0; i < values.length; i++) if (!small(values[i])) return false;
  return true;
}

/** The members of `obj` when they enumerate in strictly ascending order, else -1. */
function sortedMembers(obj: Record<string, unknown>): number {
  let n = 0;
  let prev: string | undefined;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    if (prev !== undefined && !(prev < k)) return -1;
    prev = k;
    n++;
  }
  return n;
}

/** Whether every object and array inside `value` is small and (objects) in sorted order. */
function nestedCanonical(value: object): boolean {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!small(value[i])) return false;
    return true;
  }
  const obj = value as Record<string, unknown>;
  for (const k in obj) if (Object.hasOwn(obj, k) && !small(obj[k])) return false;
  return true;
}

/**
 * A member of a piece: a scalar, or a small container that is canonical all the way down (an
 * object's members looked at in one pass: their order, their count and each member).
 */
function small(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) {
    if (v.length >= SUMMARIZE_AT) return false;
    for (let i = 0; i < v.length; i++) if (!small(v[i])) return false;
    return true;
  }
  const obj = v as Record<string, unknown>;
  let n = 0;
  let prev: string | undefined;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    if ((prev !== undefined && !(prev < k)) || ++n >= SUMMARIZE_AT || !small(obj[k])) return false;
    prev = k;
  }
  return true;
}
