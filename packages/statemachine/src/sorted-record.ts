/**
 * `SortedRecord`: an immutable string-keyed record held as two parallel arrays, keys sorted in
 * UTF-16 code unit order (the order of `Array.prototype.sort()` and of canonical JSON). A
 * record of plain data whose JSON, canonical JSON and digest are those of the object
 * `{ [keys[i]]: values[i] }` (canonical.ts renders it as that object; `toJSON` gives it to
 * `JSON.stringify`), at a fraction of the object's cost to copy: a copy of a 12-member record
 * is two array copies (about 0.15 µs here) where a prototype-less object keyed by arbitrary
 * strings is a hash table copied member by member (about 1.9 µs), and a new value under a
 * key it holds shares the key array.
 * @module
 */

/**
 * Above this many members, an insertion or a deletion copies with `toSpliced` (one native copy
 * per array: ~0.2 µs at 192 members against ~0.7 µs for the element loop below, the lock
 * table's size in packages/locks/bench/locks.ts); at a store leaf's ~12 the loop is as fast.
 */
const NATIVE_COPY_MIN = 32;

/**
 * An immutable record in sorted parallel arrays. Values are JSON values (never `undefined`
 * nor functions: canonical JSON would drop such a member, and the record would count it).
 */
export class SortedRecord<T> {
  /**
   * @param keys - distinct, sorted in UTF-16 code unit order (`a < b`); not copied
   * @param values - `values[i]` is the value of `keys[i]`; not copied
   */
  constructor(
    readonly keys: readonly string[],
    readonly values: readonly T[],
  ) {}

  /** The record of an object's own enumerable members (`undefined` ones left out). */
  static from<T>(obj: Readonly<Record<string, T>>): SortedRecord<T> {
    const keys: string[] = [];
    for (const k of Object.keys(obj)) if (obj[k] !== undefined) keys.push(k);
    keys.sort();
    return new SortedRecord(
      keys,
      keys.map((k) => obj[k]!),
    );
  }

  /** How many members. */
  get size(): number {
    return this.keys.length;
  }

  /** The position of `key`, or `-(where it would go) - 1` when absent. */
  find(key: string): number {
    const keys = this.keys;
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[mid]!;
      if (k < key) lo = mid + 1;
      else if (k > key) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }

  /** The value of `key`, if any. */
  get(key: string): T | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.values[i];
  }

  /** A record with `key` set to `value` (a replaced value shares the key array). */
  set(key: string, value: T): SortedRecord<T> {
    return this.setAt(this.find(key), key, value);
  }

  /**
   * `set(key, value)` where `i` is `find(key)`, already known (a caller that read the old value
   * first searches once, not twice).
   */
  setAt(i: number, key: string, value: T): SortedRecord<T> {
    if (i >= 0) {
      const values = this.values.slice();
      values[i] = value;
      return new SortedRecord(this.keys, values);
    }
    const at = -i - 1;
    if (this.keys.length > NATIVE_COPY_MIN) {
      return new SortedRecord(this.keys.toSpliced(at, 0, key), this.values.toSpliced(at, 0, value));
    }
    const n = this.keys.length;
    const keys = new Array<string>(n + 1);
    const values = new Array<T>(n + 1);
    for (let j = 0; j < at; j++) {
      keys[j] = this.keys[j]!;
      values[j] = this.values[j]!;
    }
    keys[at] = key;
    values[at] = value;
    for (let j = at; j < n; j++) {
      keys[j + 1] = this.keys[j]!;
      values[j + 1] = this.values[j]!;
    }
    return new SortedRecord(keys, values);
  }

  /** A record without `key` (this one when it has no `key`). */
  delete(key: string): SortedRecord<T> {
    const i = this.find(key);
    if (i < 0) return this;
    if (this.keys.length > NATIVE_COPY_MIN)
      return new SortedRecord(this.keys.toSpliced(i, 1), this.values.toSpliced(i, 1));
    // one pass per array (a copy and a `splice` moved the tail twice)
    const n = this.keys.length - 1;
    const keys = new Array<string>(n);
    const values = new Array<T>(n);
    for (let j = 0; j < i; j++) {
      keys[j] = this.keys[j]!;
      values[j] = this.values[j]!;
    }
    for (let j = i; j < n; j++) {
      keys[j] = this.keys[j + 1]!;
      values[j] = this.values[j + 1]!;
    }
    return new SortedRecord(keys, values);
  }

  /**
   * The record as a plain object without prototype (for `JSON.stringify`; a member named
   * `__proto__` is a member). Its members enumerate in V8's order (integer-like keys first),
   * which JSON does not fix: canonical JSON and digests sort them.
   */
  toJSON(): Record<string, T> {
    const out = Object.create(null) as Record<string, T>;
    for (let i = 0; i < this.keys.length; i++) out[this.keys[i]!] = this.values[i]!;
    return out;
  }
}
