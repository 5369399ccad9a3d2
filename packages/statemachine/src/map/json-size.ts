/**
 * `jsonByteLength`: the UTF-8 length of a value's `JSON.stringify` text, counted without
 * building the text. Every replica checks a set's value size in the replicated apply
 * (`checkSizes`): stringifying a value that was parsed a moment before, only to measure it,
 * was ~0.4 µs and a string of garbage per set on every replica.
 * @module
 */

/** Nesting deeper than this is left to `JSON.stringify` (which keeps its own errors). */
const MAX_DEPTH = 64;

/**
 * `Buffer.byteLength(JSON.stringify(value))` for plain JSON data (what `JSON.parse` gives:
 * null, booleans, numbers, strings, arrays, objects whose prototype is `Object.prototype` or
 * null, with `undefined`, functions or symbols as members or items), or -1 when `value` is
 * anything else, where `JSON.stringify` decides (a `toJSON`, a class instance, a bigint, a
 * boxed primitive, a top-level `undefined`, nesting over 64): the caller then stringifies.
 */
export function jsonByteLength(value: unknown): number {
  return sizeOf(value, 0);
}

function sizeOf(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'string':
      return stringSize(v);
    case 'number':
      return numberSize(v);
    case 'boolean':
      return v ? 4 : 5;
    case 'object':
      if (v === null) return 4;
      if (depth >= MAX_DEPTH) return -1;
      return Array.isArray(v) ? arraySize(v, depth + 1) : objectSize(v, depth + 1);
    default:
      return -1;
  }
}

/** A member's or item's value that `JSON.stringify` leaves out of an object (`null` in an array). */
function omitted(v: unknown): boolean {
  const t = typeof v;
  return t === 'undefined' || t === 'function' || t === 'symbol';
}

function arraySize(a: readonly unknown[], depth: number): number {
  if (typeof (a as { toJSON?: unknown }).toJSON === 'function') return -1;
  let n = a.length + 1; // brackets and commas
  if (a.length === 0) return 2;
  for (let i = 0; i < a.length; i++) {
    const item = a[i];
    if (omitted(item)) n += 4;
    else {
      const s = sizeOf(item, depth);
      if (s < 0) return -1;
      n += s;
    }
  }
  return n;
}

function objectSize(o: object, depth: number): number {
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) return -1;
  if (typeof (o as { toJSON?: unknown }).toJSON === 'function') return -1;
  const rec = o as Record<string, unknown>;
  let n = 2; // braces
  let members = 0;
  for (const k in rec) {
    if (!Object.hasOwn(rec, k)) continue;
    const v = rec[k];
    if (omitted(v)) continue;
    const s = sizeOf(v, depth);
    if (s < 0) return -1;
    n += stringSize(k) + 1 + s; // "key":value
    members++;
  }
  return members === 0 ? n : n + members - 1;
}

/** Bytes of a number's JSON text (`null` when not finite). */
function numberSize(x: number): number {
  if (!Number.isFinite(x)) return 4;
  if (Number.isSafeInteger(x)) {
    if (x === 0) return 1; // -0 too
    let n = x < 0 ? 2 : 1;
    let a = Math.abs(x);
    while (a >= 10) {
      a = Math.floor(a / 10);
      n++;
    }
    return n;
  }
  return String(x).length;
}

/** Bytes of a string's JSON text: quotes, escapes (well-formed `JSON.stringify`), UTF-8. */
function stringSize(s: string): number {
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c >= 0x20) n += c === 0x22 || c === 0x5c ? 2 : 1;
      else n += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
    } else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 6; // a lone surrogate is escaped: \udXXX
    } else if (c >= 0xdc00 && c <= 0xdfff) n += 6;
    else n += 3;
  }
  return n;
}
