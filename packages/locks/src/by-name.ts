/**
 * A map by request id that also finds the entries of one name without a scan: what `Locks`
 * keeps its held handles and its waiting requests in, so that following a command (which
 * changes one name) and refusing a reentry cost the same with 1 or 1,000 requests.
 * @module
 */

const NONE: ReadonlyMap<string, unknown> = new Map<string, unknown>();

/** Entries by id, also grouped by a key (`keyOf`: the kind and the name). */
export class ByName<T> {
  readonly #byId = new Map<string, T>();
  readonly #byKey = new Map<string, Map<string, T>>();
  readonly #keyOf: (t: T) => string;

  /** @param keyOf - the group of an entry; fixed for the entry's life */
  constructor(keyOf: (t: T) => string) {
    this.#keyOf = keyOf;
  }

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): T | undefined {
    return this.#byId.get(id);
  }

  set(id: string, t: T): void {
    this.delete(id);
    this.#byId.set(id, t);
    const key = this.#keyOf(t);
    let group = this.#byKey.get(key);
    if (group === undefined) this.#byKey.set(key, (group = new Map<string, T>()));
    group.set(id, t);
  }

  delete(id: string): boolean {
    const t = this.#byId.get(id);
    if (t === undefined) return false;
    this.#byId.delete(id);
    const key = this.#keyOf(t);
    const group = this.#byKey.get(key)!;
    group.delete(id);
    if (group.size === 0) this.#byKey.delete(key);
    return true;
  }

  values(): MapIterator<T> {
    return this.#byId.values();
  }

  entries(): MapIterator<[string, T]> {
    return this.#byId.entries();
  }

  /** The entries of group `key` by id (live: deleting while iterating is fine). */
  group(key: string): ReadonlyMap<string, T> {
    return this.#byKey.get(key) ?? (NONE as ReadonlyMap<string, T>);
  }
}
