/**
 * A snapshot's object read straight into a `SortedRecord`, for the places of a state where the
 * machine holds its large records of distinct keys as either kind (the config store's leaves:
 * `MachineDefinition.snapshotRecord`). `JSON.parse` gives an object its own hidden class, one
 * step per member, when its keys are not the keys of an object parsed before: the 100,000
 * keys of a store's leaves made 100,000 of them on a new replica (most of its parsing time and
 * of the old generation its garbage collector then went through), where a record is two
 * arrays of strings and values.
 *
 * The object's text is turned into the text of an array of its keys and values in place (`{`
 * and `}` of the object itself become `[` and `]`, its own `:` become `,`), which `JSON.parse`
 * reads as `[key, value, key, value, ...]`; the members' values are parsed as before. Only
 * the object's own brackets and colons change, found by skipping strings (and their escapes)
 * and counting nesting (its own `:` and `,` must alternate), so the text of a JSON object
 * becomes the text of that array; a text that is not JSON may still become one (a `]` closing
 * the object), but the caller hashes the bytes as they came before they are
 * changed (piece-digest.ts), and a state read from any other bytes than the leader's has
 * another digest and is refused.
 * @module
 */
import { MalformedSnapshotError } from './snapshot-text.js';
import { SortedRecord } from './sorted-record.js';
import {
  BACKSLASH,
  CLOSE_BRACE,
  CLOSE_BRACKET,
  COLON,
  COMMA,
  OPEN_BRACE,
  OPEN_BRACKET,
  QUOTE,
} from './json-bytes.js';

/** A record read from an object's text (`readRecord`). */
export interface RecordRead {
  readonly record: SortedRecord<unknown>;
  /**
   * The text listed the members in the record's order (ascending): only then
   * may its bytes be the record's canonical JSON (piece-digest.ts `recordTextCanonical`).
   */
  readonly inOrder: boolean;
}

/**
 * The record of the JSON object written in `b[start, end)`, or `undefined` when that text is
 * not an object's (it does not start with `{` and end with `}`): read it otherwise. The bytes
 * are CHANGED in place (hash them first). Throws `MalformedSnapshotError` for a text that does
 * not parse, and for a key given twice (`JSON.stringify` never writes one; `JSON.parse` would
 * keep its last value).
 */
export function readRecord(b: Buffer, start: number, end: number): RecordRead | undefined {
  if (end - start < 2 || b[start] !== OPEN_BRACE || b[end - 1] !== CLOSE_BRACE) return undefined;
  let depth = 0;
  // the object's own `:` and `,` alternate (a `,` where a `:` belongs would read as a member)
  let colon = true;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c === QUOTE) i = stringEnd(b, i + 1, end);
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth++ === 0) b[i] = OPEN_BRACKET;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (--depth === 0) b[i] = CLOSE_BRACKET;
    } else if (depth === 1 && (c === COLON || c === COMMA)) {
      if ((c === COLON) !== colon) throw new MalformedSnapshotError('malformed snapshot object');
      colon = !colon;
      b[i] = COMMA;
    }
  }
  let pairs: unknown;
  try {
    pairs = JSON.parse(b.toString('utf8', start, end));
  } catch (e) {
    throw new MalformedSnapshotError('snapshot line is not JSON', { cause: e });
  }
  if (!Array.isArray(pairs) || pairs.length % 2 !== 0)
    throw new MalformedSnapshotError('malformed snapshot object');
  const n = pairs.length / 2;
  const keys = new Array<string>(n);
  const values = new Array<unknown>(n);
  let inOrder = true;
  for (let i = 0; i < n; i++) {
    const k: unknown = pairs[2 * i];
    if (typeof k !== 'string') throw new MalformedSnapshotError('malformed snapshot key');
    if (i > 0 && !(keys[i - 1]! < k)) inOrder = false;
    keys[i] = k;
    values[i] = pairs[2 * i + 1];
  }
  return { record: inOrder ? new SortedRecord(keys, values) : sorted(keys, values), inOrder };
}

/**
 * Where the JSON string whose text starts at `b[at]` (after its opening quote) ends: the
 * position of its closing quote, or `end` when it is not closed before `end`. The quote is
 * found by `indexOf` (native, many bytes at a time: strings are most of a record's text) and
 * is the closing one when an even number of backslashes precedes it (each pair is an escaped
 * backslash; an odd one escapes the quote).
 */
export function stringEnd(b: Buffer, at: number, end: number): number {
  for (;;) {
    const q = b.indexOf(QUOTE, at);
    if (q < 0 || q >= end) return end;
    let k = q - 1;
    while (k >= at && b[k] === BACKSLASH) k--;
    if (((q - 1 - k) & 1) === 0) return q;
    at = q + 1;
  }
}

/** The record of members listed in any order; throws `MalformedSnapshotError` for a key given twice. */
function sorted(keys: readonly string[], values: readonly unknown[]): SortedRecord<unknown> {
  const order = keys.map((_, i) => i);
  order.sort((x, y) => (keys[x]! < keys[y]! ? -1 : keys[x]! > keys[y]! ? 1 : 0));
  const ks = order.map((i) => keys[i]!);
  for (let i = 1; i < ks.length; i++)
    if (ks[i - 1] === ks[i]) throw new MalformedSnapshotError('snapshot object with a key twice');
  return new SortedRecord(
    ks,
    order.map((i) => values[i]),
  );
}
