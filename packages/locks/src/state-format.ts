/**
 * The format of the lock machine's state, and the migration from the first one.
 *
 * Format 1 (no `format` on the definition) kept every lock and election entry forever, since
 * each numbered its tokens (terms) from its own last one: the state grew with every name ever
 * used, and every command paid for it. Format 2 draws every token and term from one
 * machine-wide counter (`LocksState.issued`) and deletes a lock's entry as soon as it is free (no
 * holder, no waiter, no failover block), so that only lock names in use take room. Per name,
 * tokens still increase strictly: a re-created entry's next token is drawn above `issued`,
 * which is at or above every token the name ever had. Election entries stay: `leader(name)`
 * reports an election's last term while nobody leads, and a term must never seem to go back
 * (the Jepsen campaign's term-order check); elections are few, long-lived names.
 *
 * Format 3 has the shape of format 2 (a format-2 state needs no migration) but a tick or a
 * membership change goes through the locks (`lockListSorted`) and the elections in name order,
 * where format 2 went in the records' own key order: `locks` may now be a `SortedRecord`
 * (lock-table.ts), which keeps no insertion order, and the order decides which lock gets which
 * token, or which election which term, when one step grants or elects on several (one counter
 * issues both). An `elections` record kept its order only because every replica built it alike. A format-2 replica would issue them in another order: the format
 * number keeps the two apart (below).
 *
 * Why this is safe across...
 * - deletion and re-creation: above.
 * - partitions: only a quorate component applies commands (a minority issues nothing), and
 *   `issued` is part of the replicated state, synced like the rest.
 * - restarts from data directories: `issued` is in snapshots, and every change of it is a
 *   journal patch (`replace ['issued']`), so a replayed state has the counter it had.
 * - an old data directory (format 1): its state has no `issued`. The first change of such a
 *   state (a command, a tick, a membership step) migrates it first, identically on every
 *   replica: `issued` := the largest token or term of any entry (format 1 never deleted one, so
 *   that is the largest ever issued), free locks dropped. Until then nothing is issued.
 * - an old-version peer: the definition says `format: 3`, which its frames carry
 *   (`cpgkit.locks@3`), so replicas of formats 1, 2 and 3 count each other's messages as foreign
 *   and never mix states (see `MachineDefinition.format`). A mixed cluster is two machines in
 *   one group: only the side holding a majority of the replica set `Q` is quorate.
 * - a downgrade (format 2 data read by a format-1 version): NOT safe, and not detected: the old
 *   version would re-create a deleted name from token 0 (the `clock` scheme still floors it at
 *   the replicated time × 1000). Do not downgrade a cluster that ran format 2.
 * @module
 */
import type { Patch } from 'immer';
import type { LockEntry, LocksState } from './state.js';
import { lockList } from './lock-table.js';

/** The state format this version of the lock machine runs (`MachineDefinition.format`). */
export const LOCKS_STATE_FORMAT = 3;

/** Whether lock `e` holds nothing worth keeping (its name can go). */
export function isFreeLock(e: LockEntry): boolean {
  return e.holders.length === 0 && e.waiters.length === 0 && e.blockedUntil === null;
}

/** Whether `state` is of the first format (no machine-wide counter). */
export function needsMigration(state: LocksState): boolean {
  return (state as { readonly issued?: string }).issued === undefined;
}

/** The largest token or term of any entry of `state` (decimal string, "0" for none). */
export function largestIssued(state: Pick<LocksState, 'locks' | 'elections'>): string {
  let max = 0n;
  for (const [, e] of lockList(state.locks)) {
    let t = BigInt(e.token);
    if (t > max) max = t;
    for (const h of e.holders) if ((t = BigInt(h.token)) > max) max = t;
  }
  for (const name of Object.keys(state.elections)) {
    const t = BigInt(state.elections[name]!.term);
    if (t > max) max = t;
  }
  return max.toString();
}

/**
 * `state` (first format) in the current one: `issued` set to the largest token or term it
 * holds, free locks dropped (key order of the rest kept), `issued` last. Pushes the patches
 * from `state` to the result onto `patches` when given.
 */
export function migrateLocksState(state: LocksState, patches?: Patch[]): LocksState {
  const issued = largestIssued(state);
  const locks: Record<string, LockEntry> = {};
  let dropped = false;
  for (const [name, e] of lockList(state.locks)) {
    if (isFreeLock(e)) dropped = true;
    else locks[name] = e;
  }
  if (dropped) patches?.push({ op: 'replace', path: ['locks'], value: locks });
  patches?.push({ op: 'add', path: ['issued'], value: issued });
  return {
    ...state,
    locks: dropped ? locks : state.locks,
    issued,
  };
}
