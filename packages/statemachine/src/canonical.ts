/**
 * Canonical serialisation and the state digest: JSON with object keys sorted, so that equal
 * states give equal bytes on every member whatever order their keys were inserted in.
 * @module
 */
import { createHash, type Hash } from 'node:crypto';
import { PIECE_MEMBERS } from './json-pieces.js';
import { KEEP_TEXT, keepText, sortedIsJsonOrder, type TextRun } from './piece-text.js';
import { SortedRecord } from './sorted-record.js';

export { canonicalJson } from './canonical-json.js';

/** Objects and arrays with at least this many members are digested on their own (and cached). */
const SUMMARIZE_AT = 16;

/** Digests of large objects and arrays, by identity: valid because states are never modified. */
const cache = new WeakMap<object, string>();

/**
 * A sha256 (hex) of the canonical JSON of `value`, computed as a Merkle tree: every object or
 * array with at least 16 members (defined ones, for objects) below the top is replaced by
 * `<its digest>`, and that digest is cached by identity. So equal JSON gives equal digests on
 * every member, and a state that shares most of its objects with one already digested (an
 * immer update, or the store's tree after a write: see map/state.ts) costs only the path that
 * changed, not the whole state.
 *
 * The cache assumes that `value` and everything reachable from it are never modified after
 * being digested (immutable states: see `ReplicatedStateMachine.state`).
 */
export function digestOf(value: unknown): string {
  const outer = run;
  run = { verbatim: true, members: 0 };
  try {
    return sha256(merkleText(value, true));
  } finally {
    run = outer;
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The keys of `obj` whose values are neither `undefined` nor functions, sorted (UTF-16 code
 * unit order, as `Array.prototype.sort` without a comparator). Keys that come in order already
 * (most objects built by the same code) are not sorted again.
 */
function definedKeys(obj: Record<string, unknown>): string[] {
  const all = Object.keys(obj);
  const keys: string[] = [];
  let sorted = true;
  for (let i = 0; i < all.length; i++) {
    const k = all[i]!;
    const v = obj[k];
    if (v === undefined) continue;
    if (typeof v === 'function') {
      // JSON.stringify would call a member named toJSON: the text is not its JSON
      run.verbatim = false;
      continue;
    }
    if (sorted && keys.length > 0 && !(keys[keys.length - 1]! < k)) sorted = false;
    keys.push(k);
  }
  if (sorted) return keys;
  run.verbatim = false;
  return keys.sort();
}

/**
 * The members of a small object in canonical order, as `[JSON of the key + ':', key]` pairs,
 * remembered for the last few key lists seen (objects built by the same code list the same
 * keys in the same order: the store's entries, a machine's records), so that such an object
 * costs neither a sort nor quoting its keys again. `undefined` and function members are
 * still skipped by the caller.
 */
interface Shape {
  readonly keys: readonly string[];
  /** Positions in `keys`, in sorted key order. */
  readonly order: readonly number[];
  /** `JSON.stringify(key) + ':'`, by position in `keys`. */
  readonly quoted: readonly string[];
  /** Whether `keys` are in sorted order already (`order` is `0, 1, ...`). */
  readonly sorted: boolean;
}

/** A few shapes, most recent first (see `Shape`). */
const shapes: Shape[] = [];
const SHAPES = 4;
/** Objects with more keys than this are not remembered as a shape. */
const SHAPE_KEYS = 12;

function shapeOf(all: readonly string[]): Shape | undefined {
  if (all.length > SHAPE_KEYS) return undefined;
  for (let s = 0; s < shapes.length; s++) {
    const sh = shapes[s]!;
    const k = sh.keys;
    if (k.length !== all.length) continue;
    let same = true;
    for (let i = 0; same && i < k.length; i++) same = k[i] === all[i];
    if (same) return sh;
  }
  const order = all.map((_, i) => i).sort((a, b) => (all[a]! < all[b]! ? -1 : 1));
  const sh: Shape = {
    keys: all,
    order,
    quoted: all.map((k) => JSON.stringify(k) + ':'),
    sorted: order.every((at, i) => at === i),
  };
  shapes.unshift(sh);
  if (shapes.length > SHAPES) shapes.pop();
  return sh;
}

/**
 * Fill the digest cache of `value` with `digest`, computed elsewhere (piece-digest.ts: a
 * snapshot piece hashed from the bytes it was parsed from). Only for an object that nothing
 * else holds yet and that is dropped unless the digest of the whole it belongs to is checked
 * (see piece-digest.ts): a wrong digest here is a wrong `digestOf` of everything holding it.
 */
export function rememberDigest(value: object, digest: string): void {
  cache.set(value, digest);
}

/** The run `merkleText` writes into (each digest of an object on its own has its own). */
let run: TextRun = { verbatim: true, members: 0 };

/** `<digest>` of a large object or array, computed once per object (see `cache`). */
function summary(value: object): string {
  let h = cache.get(value);
  if (h === undefined) {
    const outer = run;
    run = { verbatim: true, members: 0 };
    const text = merkleText(value, true);
    // hashing flattens the text: a kept one is one string, not a tree of its parts
    h = sha256(text);
    cache.set(value, h);
    keepText(value, text, run);
    run = outer;
    // digested whole while a warm had it half-hashed: the half is no use now
    partials.delete(value);
  }
  // the text holding it is not its JSON any more
  run.verbatim = false;
  return '<' + h + '>';
}

/** A scalar as `write` writes it. */
function scalarText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      run.verbatim = false;
      return `"${value.toString()}"`;
    case 'object':
      // null
      return 'null';
    default:
      // undefined, a function or a symbol: JSON writes null in an array, skips a member
      run.verbatim = false;
      return 'null';
  }
}

/**
 * The text that is hashed for `value`: canonical JSON where every large object or array below
 * the top is its `summary`. Built by string concatenation (V8 joins the pieces once, when the
 * hash reads the text), not as an array of small strings.
 */
function merkleText(value: unknown, top: boolean): string {
  if (value === null || typeof value !== 'object') return scalarText(value);
  if (!top && cache.has(value)) return summary(value);
  if (Array.isArray(value)) {
    if (!top && value.length >= SUMMARIZE_AT) return summary(value);
    run.members += value.length;
    let s = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) s += ',';
      s += merkleText(value[i], false);
    }
    return s + ']';
  }
  if (value instanceof SortedRecord) return recordText(value as SortedRecord<unknown>, top);
  const obj = value as Record<string, unknown>;
  if ('toJSON' in obj) run.verbatim = false;
  const all = Object.keys(obj);
  const shape = all.length < SUMMARIZE_AT ? shapeOf(all) : undefined;
  if (shape !== undefined) {
    // fewer than 16 keys: never summarised below the top
    if (!shape.sorted) run.verbatim = false;
    let s = '{';
    let first = true;
    for (let i = 0; i < shape.order.length; i++) {
      const at = shape.order[i]!;
      const v = obj[all[at]!];
      if (v === undefined || typeof v === 'function') continue;
      run.members++;
      s += (first ? shape.quoted[at]! : ',' + shape.quoted[at]!) + merkleText(v, false);
      first = false;
    }
    return s + '}';
  }
  const keys = definedKeys(obj);
  if (!top && keys.length >= SUMMARIZE_AT) return summary(value);
  run.members += keys.length;
  let s = '{';
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) s += ',';
    const k = keys[i]!;
    s += JSON.stringify(k) + ':' + merkleText(obj[k], false);
  }
  return s + '}';
}

/** `merkleText` of a `SortedRecord`: the object it holds, its keys in canonical order already. */
function recordText(rec: SortedRecord<unknown>, top: boolean): string {
  const { keys, values } = rec;
  if (!top && definedCount(rec) >= SUMMARIZE_AT) return summary(rec);
  if (!sortedIsJsonOrder(keys)) run.verbatim = false;
  let s = '{';
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const v = values[i];
    if (v === undefined || typeof v === 'function') continue;
    run.members++;
    s += (first ? '' : ',') + JSON.stringify(keys[i]) + ':' + merkleText(v, false);
    first = false;
  }
  return s + '}';
}

/** The members of `rec` that JSON keeps (all of them, unless a value is `undefined`). */
function definedCount(rec: SortedRecord<unknown>): number {
  let n = 0;
  for (const v of rec.values) if (v !== undefined && typeof v !== 'function') n++;
  return n;
}

/** Whether `value` is digested on its own when below the top (see `digestOf`). */
function isLarge(value: object): boolean {
  if (Array.isArray(value)) return value.length >= SUMMARIZE_AT;
  if (value instanceof SortedRecord)
    return definedCount(value as SortedRecord<unknown>) >= SUMMARIZE_AT;
  // counted with for-in (no array of keys: this runs for every small object of a state)
  let n = 0;
  const obj = value as Record<string, unknown>;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    const v = obj[k];
    if (v !== undefined && typeof v !== 'function' && ++n >= SUMMARIZE_AT) return true;
  }
  return false;
}

/**
 * Fill the digest cache for `value` (itself, when large, and the large objects and arrays
 * below it that are reached through large ones), deepest first, until `deadline` (a time of
 * `now`, by default `performance.now()`; a replica passes its slice time, slices.ts) passes.
 * Returns whether it finished: then a `digestOf` of anything holding `value` costs only the
 * small objects above it and below its large ones. Work done before the deadline stays
 * cached, so calling it again goes on where it stopped; a caller spreads the digest of a large
 * state changed since its last digest over several turns of the event loop this way, instead
 * of computing it in one go.
 *
 * The deadline is looked at every `CHECK_EVERY` members, inside a large object too: a large
 * object cut by the deadline keeps its digest half-hashed (`Partial`) and the next call goes
 * on from the member it stopped at, so an object of 100,000 small members is spread over
 * slices like a tree of small ones. Each call does at least `CHECK_EVERY` members' work, so
 * a deadline already past still makes progress. (A large object inside a small one below
 * the top is digested with its parent, in one go: correct, just not spread.)
 */
export function warmDigest(
  value: unknown,
  deadline: number,
  now: () => number = () => performance.now(),
): boolean {
  return warm(value, { deadline, now, work: 0 }, true);
}

/** The deadline is looked at once per this many members (see `warmDigest`). */
export const CHECK_EVERY = 16;

/** One call of `warmDigest`: its deadline and the members done since the clock was read. */
interface Warming {
  readonly deadline: number;
  readonly now: () => number;
  work: number;
}

/** A member done: whether the deadline has passed (looked at every `CHECK_EVERY` members). */
function due(w: Warming): boolean {
  if (++w.work < CHECK_EVERY) return false;
  w.work = 0;
  return w.now() > w.deadline;
}

/**
 * A large object's digest cut by a deadline: the hash of its text up to member `next`
 * (`merkleText`'s text, fed a member at a time: the pieces are whole JSON tokens, so their
 * UTF-8 is that of the whole text), with the keys it goes through for a plain object. While
 * the text may still be kept (piece-text.ts), it is not hashed before its end.
 */
interface Partial {
  readonly hash: Hash;
  /** A plain object's members in canonical order (`definedKeys`). */
  readonly keys: readonly string[] | undefined;
  /** The next member (an index into the array, the record's arrays, or `keys`). */
  next: number;
  /** Whether a member was hashed already (a comma goes before the next one). */
  any: boolean;
  /** The text not hashed yet. */
  pending: string;
  /** Whether `pending` is all of the text so far, to be kept at the end. */
  keeping: boolean;
  /** What the text went through (see `TextRun`). */
  readonly run: TextRun;
}

/** Large objects whose digest a deadline cut (see `Partial`); dropped once finished. */
const partials = new WeakMap<object, Partial>();

/** Text of at most about this many characters is gathered before it is hashed. */
const HASH_TEXT = 64 * 1024;

function warm(value: unknown, w: Warming, top: boolean): boolean {
  if (value === null || typeof value !== 'object' || cache.has(value)) return true;
  const large = partials.has(value) || isLarge(value);
  if (!top && !large) return true;
  if (!large) {
    // a small top: only its members can be large
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (!warm(value[i], w, false)) return false;
    } else if (value instanceof SortedRecord) {
      const values = (value as SortedRecord<unknown>).values;
      for (let i = 0; i < values.length; i++) if (!warm(values[i], w, false)) return false;
    } else {
      const obj = value as Record<string, unknown>;
      for (const k in obj) if (Object.hasOwn(obj, k) && !warm(obj[k], w, false)) return false;
    }
    return true;
  }
  const outer = run;
  try {
    return warmLarge(value, w);
  } finally {
    run = outer;
  }
}

/** A `Partial` for a large object whose digest starts now; `run` is its own from here on. */
function startPartial(
  value: object,
  array: boolean,
  rec: SortedRecord<unknown> | undefined,
): Partial {
  run = { verbatim: true, members: 0 };
  let keys: string[] | undefined;
  if (rec !== undefined) {
    if (!sortedIsJsonOrder(rec.keys)) run.verbatim = false;
  } else if (!array) {
    if ('toJSON' in value) run.verbatim = false;
    keys = definedKeys(value as Record<string, unknown>);
  }
  const p: Partial = {
    hash: createHash('sha256'),
    keys,
    next: 0,
    any: false,
    pending: array ? '[' : '{',
    keeping: true,
    run,
  };
  partials.set(value, p);
  return p;
}

/** Hash what is pending when the text is not kept (at a cut, or once enough gathered). */
function flush(p: Partial, atLeast: number): void {
  if (p.keeping || p.pending.length < atLeast) return;
  p.hash.update(p.pending);
  p.pending = '';
}

/**
 * `summary` of a large object, a member at a time: each member's large objects are warmed,
 * then its text is hashed; stops (keeping a `Partial`) when the deadline has passed. Runs in
 * the object's own `run` (the caller restores its own).
 */
function warmLarge(value: object, w: Warming): boolean {
  const array = Array.isArray(value);
  const rec = value instanceof SortedRecord ? (value as SortedRecord<unknown>) : undefined;
  let p = partials.get(value);
  if (p === undefined) p = startPartial(value, array, rec);
  else run = p.run;
  const obj = value as Record<string, unknown>;
  const members: readonly unknown[] = array
    ? (value as unknown[])
    : rec !== undefined
      ? rec.values
      : p.keys!;
  for (; p.next < members.length; p.next++) {
    const i = p.next;
    const v = array || rec !== undefined ? members[i] : obj[p.keys![i]!];
    if (!array && (v === undefined || typeof v === 'function')) {
      if (v !== undefined) run.verbatim = false;
      continue;
    }
    // a member's own large objects first (cut by the deadline, it goes on there next time)
    if (typeof v === 'object' && v !== null && !warm(v, w, false)) {
      flush(p, 0);
      return false;
    }
    const member = merkleText(v, false);
    const name = array ? '' : JSON.stringify(rec !== undefined ? rec.keys[i]! : p.keys![i]!) + ':';
    p.pending += (p.any ? ',' : '') + name + member;
    p.any = true;
    run.members++;
    if (p.keeping && (!run.verbatim || run.members > PIECE_MEMBERS || p.pending.length > KEEP_TEXT))
      p.keeping = false;
    flush(p, HASH_TEXT);
    if (due(w)) {
      p.next++;
      if (p.next >= members.length) finish(value, p, array);
      else flush(p, 0);
      return false;
    }
  }
  return finish(value, p, array);
}

/** The last of a large object's members is hashed: its digest goes into the cache. */
function finish(value: object, p: Partial, array: boolean): boolean {
  p.pending += array ? ']' : '}';
  // hashing flattens the text: a kept one is one string, not a tree of its parts
  p.hash.update(p.pending);
  cache.set(value, p.hash.digest('hex'));
  if (p.keeping) keepText(value, p.pending, p.run);
  partials.delete(value);
  return true;
}
