/**
 * Writable lock entries of an immer draft of the lock state, whichever form its `locks` has
 * (lock-table.ts): the draft's own drafts of a plain record, or, for a `SortedRecord` (which
 * immer cannot draft), private copies of the entries a change touches, put back as one new
 * `SortedRecord` when it is done. Used by `apply` (the reference), ticks and membership
 * changes (machine.ts); commands on replicas go through `reduce` (reduce.ts).
 * @module
 */
import { isDraft, original, type Draft } from 'immer';
import { SortedRecord } from '@cpgkit/statemachine';
import { copyEntry, newEntry, type WEntry } from './entry-steps.js';
import { lockOf, withLock } from './lock-table.js';
import { isFreeLock } from './state-format.js';
import type { LockEntry, LocksState, LockTable } from './state.js';

/** The lock entries of one change of a draft. */
export interface LockWriter {
  /** The locks before the change (read without making drafts). */
  readonly base: LockTable;
  /** Whether lock `name` has an entry now. */
  has(name: string): boolean;
  /** Lock `name`'s entry to write, a new one when it has none. */
  entry(name: string): WEntry;
  /** Delete lock `name`'s entry when it is free (tokens continue from `issued`). */
  dropIfFree(name: string): void;
  /** Put what changed into the draft: call once, after the last write. */
  done(): void;
}

/** A `LockWriter` of `draft`. */
export function lockWriter(draft: Draft<LocksState>): LockWriter {
  const locks: unknown = draft.locks;
  const base = (isDraft(locks) ? original(locks) : locks) as LockTable;
  return base instanceof SortedRecord
    ? sortedWriter(draft, base)
    : plainWriter(locks as Record<string, WEntry>, base);
}

function plainWriter(rec: Record<string, WEntry>, base: LockTable): LockWriter {
  return {
    base,
    has: (name) => rec[name] !== undefined,
    entry: (name) => (rec[name] ??= newEntry()),
    dropIfFree(name) {
      const e = rec[name];
      if (e !== undefined && isFreeLock(e)) delete rec[name];
    },
    done() {},
  };
}

function sortedWriter(draft: Draft<LocksState>, base: SortedRecord<LockEntry>): LockWriter {
  /** Entries copied (or made) for this change; `null`: deleted. */
  const copies = new Map<string, WEntry | null>();
  return {
    base,
    has: (name) => (copies.has(name) ? copies.get(name) !== null : base.get(name) !== undefined),
    entry(name) {
      let e = copies.get(name);
      if (e === undefined || e === null) {
        const before = e === null ? undefined : base.get(name);
        e = before === undefined ? newEntry() : copyEntry(before);
        copies.set(name, e);
      }
      return e;
    },
    dropIfFree(name) {
      const e = copies.get(name);
      if (e !== undefined && e !== null && isFreeLock(e)) copies.set(name, null);
    },
    done() {
      if (copies.size === 0) return;
      let t: LockTable = base;
      for (const [name, e] of copies)
        if (e !== null || lockOf(t, name) !== undefined) t = withLock(t, name, e ?? undefined);
      (draft as { locks: LockTable }).locks = t;
    },
  };
}
