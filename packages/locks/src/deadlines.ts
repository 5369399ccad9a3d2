/**
 * The lock machine's next deadline (`nextDeadline`: the earliest lease end, or the end of a
 * failover block: its end lets waiters in, or a free entry go) without a walk of every lock on every turn: the answer
 * for a `locks` record is remembered (by the record's identity), and a command that changes
 * one lock (`reduceLocks`) derives its record's answer from the one before in O(1). A record
 * nobody derived (a tick's, a membership change's, a snapshot's) is walked once.
 *
 * Remembered answers are a cache of a pure function of immutable records: every replica
 * computes the same deadline with or without them.
 * @module
 */
import type { ElectionEntry, LockEntry, LocksState } from './state.js';
import { lockList } from './lock-table.js';

/** The earliest deadline of a record, and the name that has it (`null`: none or unknown). */
interface Earliest {
  readonly at: number;
  readonly name: string | null;
}

const NONE: Earliest = { at: Infinity, name: null };

const earliestOfLocks = new WeakMap<object, Earliest>();
const earliestOfElections = new WeakMap<object, number>();

/** When lock `e` needs a tick (`Infinity`: never). */
export function lockDeadline(e: LockEntry | undefined): number {
  if (e === undefined) return Infinity;
  let next = Infinity;
  for (const h of e.holders) if (h.expires !== null && h.expires < next) next = h.expires;
  // a block is due even with nobody waiting: the tick that ends it lets a free entry go
  if (e.blockedUntil !== null && e.blockedUntil < next) next = e.blockedUntil;
  return next;
}

function electionDeadline(e: ElectionEntry): number {
  return e.blockedUntil !== null && e.candidates.length > 0 ? e.blockedUntil : Infinity;
}

function walkLocks(locks: LocksState['locks']): Earliest {
  let best = NONE;
  for (const [name, e] of lockList(locks)) {
    const at = lockDeadline(e);
    if (at < best.at) best = { at, name };
  }
  return best;
}

/**
 * `next` is `prev` with lock `name` changed to `after` (`undefined`: deleted): remember `next`'s
 * earliest deadline when `prev`'s is known (it is unknown when the lock that had the earliest
 * now has a later).
 */
export function lockChanged(
  prev: LocksState['locks'],
  next: LocksState['locks'],
  name: string,
  after: LockEntry | undefined,
): void {
  const known = earliestOfLocks.get(prev);
  if (known === undefined) return;
  const at = lockDeadline(after);
  if (at < known.at) {
    earliestOfLocks.set(next, { at, name });
  } else if (known.name !== name) {
    // later than the earliest, which another lock has and keeps
    earliestOfLocks.set(next, known);
  }
}

/** The replicated time at which `state` needs a tick, or `undefined`. */
export function nextDeadline(state: LocksState): number | undefined {
  let locks = earliestOfLocks.get(state.locks);
  if (locks === undefined) {
    locks = walkLocks(state.locks);
    earliestOfLocks.set(state.locks, locks);
  }
  let elections = earliestOfElections.get(state.elections);
  if (elections === undefined) {
    elections = Infinity;
    for (const e of Object.values(state.elections))
      elections = Math.min(elections, electionDeadline(e));
    earliestOfElections.set(state.elections, elections);
  }
  const next = Math.min(locks.at, elections);
  return next === Infinity ? undefined : next;
}
