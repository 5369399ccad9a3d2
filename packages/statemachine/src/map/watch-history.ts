/**
 * A store replica's recent changes, for `watch({ fromRevision })`: the last `limit` changes in
 * revision order, and the revision from which on every change is held (`floor`). The changes
 * sit in a ring of parallel arrays (key, value, revision, create revision), not one object
 * each: a replica records every write, and with the default limit each record lived through
 * 10,000 writes, long enough to be promoted to the old generation and collected there (a share
 * of every write's garbage-collection cost). Change objects are built only for a replay.
 * @module
 */
import type { Json } from './state.js';

/** One change of the store, as `watch` gives it (see `MapChange`). */
export interface HeldChange {
  readonly type: 'set' | 'delete';
  readonly key: string;
  readonly value?: Json;
  readonly revision: number;
  readonly createRevision?: number;
}

/** The changes a replica applied lately. */
export class WatchHistory {
  private readonly keys: string[] = [];
  private readonly values: (Json | undefined)[] = [];
  private readonly revisions: number[] = [];
  /** The key's create revision for a `set`; -1 for a `delete`. */
  private readonly creates: number[] = [];
  /** Where the oldest held change is, and how many are held. */
  private head = 0;
  private size = 0;
  /** Every change of this revision or later is held (`Infinity` before the first state). */
  floor = Infinity;

  constructor(private readonly limit: number) {}

  /** Start again after a state of `revision` (the first one, or a snapshot replacing ours). */
  reset(revision: number): void {
    this.keys.length = 0;
    this.values.length = 0;
    this.revisions.length = 0;
    this.creates.length = 0;
    this.head = 0;
    this.size = 0;
    this.floor = revision + 1;
  }

  /** Hold a `set` of `key` (created at `createRevision`) at `revision`. */
  set(key: string, value: Json, revision: number, createRevision: number): void {
    this.push(key, value, revision, createRevision);
  }

  /** Hold a `delete` of `key` at `revision`. */
  delete(key: string, revision: number): void {
    this.push(key, undefined, revision, -1);
  }

  private push(key: string, value: Json | undefined, revision: number, create: number): void {
    const limit = this.limit;
    if (limit <= 0) {
      this.floor = revision + 1;
      return;
    }
    let slot: number;
    if (this.size < limit) {
      slot = (this.head + this.size) % limit;
      this.size++;
    } else {
      // full: the oldest change goes, and the floor moves past it
      slot = this.head;
      this.floor = this.revisions[slot]! + 1;
      this.head = (this.head + 1) % limit;
    }
    this.keys[slot] = key;
    this.values[slot] = value;
    this.revisions[slot] = revision;
    this.creates[slot] = create;
  }

  /** Every held change `keep` accepts, oldest first (new objects). */
  since(keep: (c: HeldChange) => boolean): HeldChange[] {
    const out: HeldChange[] = [];
    for (let i = 0; i < this.size; i++) {
      const s = (this.head + i) % this.limit;
      const create = this.creates[s]!;
      const c: HeldChange =
        create < 0
          ? { type: 'delete', key: this.keys[s]!, revision: this.revisions[s]! }
          : {
              type: 'set',
              key: this.keys[s]!,
              value: this.values[s]!,
              revision: this.revisions[s]!,
              createRevision: create,
            };
      if (keep(c)) out.push(c);
    }
    return out;
  }
}
