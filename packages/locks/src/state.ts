/**
 * The replicated state of locks and elections. JSON only (snapshots carry it): tokens and
 * terms are bigints carried as decimal strings.
 * @module
 */
import type { SortedRecord } from '@cpgkit/statemachine';

/** A JSON value (what a candidate may carry as its `value`). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The member incarnation that owns a hold, a wait or a candidacy. */
export interface Owner {
  /** The incarnation uuid (one per connection): the actual owner. */
  readonly incarnation: string;
  /** For display: the node and the process. */
  readonly nodeid: number;
  readonly pid: number;
}

/**
 * How a name behaves. Fixed while the name has holders or waiters; an idle name takes the
 * kind of its next request.
 * - `mutex`: one holder at a time (every request is `exclusive`);
 * - `semaphore`: up to `limit` holders at a time (every request is `shared`);
 * - `rwlock`: any number of `shared` holders (readers) or one `exclusive` holder (writer).
 */
export type LockKind = 'mutex' | 'semaphore' | 'rwlock';

/** What a request asks for: the whole name, or one share of it. */
export type LockMode = 'exclusive' | 'shared';

/** A granted request. */
export interface LockHolder {
  /** The request id (uuid v7 chosen by the requester). */
  readonly id: string;
  readonly owner: Owner;
  readonly mode: LockMode;
  /** The fencing token of this grant (a bigint as a decimal string). */
  readonly token: string;
  /** Replicated time of the grant. */
  readonly since: number;
  /** The lease length in ms, or `null` for no lease. */
  readonly ttl: number | null;
  /** Replicated time at which the lease ends, or `null`. */
  readonly expires: number | null;
}

/** A request waiting its turn (FIFO, in the order the group agreed on). */
export interface LockWaiter {
  readonly id: string;
  readonly owner: Owner;
  readonly mode: LockMode;
  readonly ttl: number | null;
  /** Replicated time of the request. */
  readonly since: number;
}

/**
 * One lock name. An entry goes once it is free (no holder, no waiter, no failover block): the
 * next token of the name is drawn from the machine-wide `LocksState.issued`, above every
 * token ever issued, so nothing needs to be kept to never reuse one.
 */
export interface LockEntry {
  /** `null` once idle (the next request sets it). */
  readonly kind: LockKind | null;
  /** Most `shared` holders at once (semaphore permits); 0 means no limit (rwlock readers). */
  readonly limit: number;
  /** The last fencing token issued for this name while it had this entry (decimal string). */
  readonly token: string;
  readonly holders: readonly LockHolder[];
  readonly waiters: readonly LockWaiter[];
  /**
   * After a holder was removed against its will (it left, or its lease ran out), nobody is
   * granted before this replicated time (`failoverDelay`), so that the old holder has time to
   * notice and stop. `null` when not fenced.
   */
  readonly blockedUntil: number | null;
}

/**
 * Lock names to their entries: a `SortedRecord` (the statemachine's sorted parallel arrays)
 * once a command changed it, a plain object when it came from JSON (a snapshot, a data
 * directory) or from immer (`apply`, ticks, membership changes). Both have the same members,
 * canonical JSON and digest. Read it with `lockOf`, `lockNames`, `lockList` (lock-table.ts).
 */
export type LockTable = SortedRecord<LockEntry> | Readonly<Record<string, LockEntry>>;

/** A candidate for leadership (or the leader). */
export interface Candidate {
  /** The campaign id (uuid v7 chosen by the candidate). */
  readonly id: string;
  readonly owner: Owner;
  /** What the candidate announces (an address, a config...). */
  readonly value: Json;
  /** Replicated time of the campaign. */
  readonly since: number;
}

/**
 * One election name. Entries stay (unlike locks'), so that `term` reports the last term while
 * nobody leads; the next term is drawn from `LocksState.issued` all the same.
 */
export interface ElectionEntry {
  /** The term of the current (or last) leader while the name had this entry (decimal string). */
  readonly term: string;
  readonly leader: Candidate | null;
  /** Waiting candidates, FIFO. */
  readonly candidates: readonly Candidate[];
  /** Like `LockEntry.blockedUntil`: no new leader before this replicated time. */
  readonly blockedUntil: number | null;
}

/** The whole replicated state of the lock machine. */
export interface LocksState {
  readonly locks: LockTable;
  readonly elections: Readonly<Record<string, ElectionEntry>>;
  /**
   * Incarnations that left, newest last (the last `DEPARTED_MAX`): a command still in flight
   * from one of them is refused, so nothing is granted to a member that is gone. An
   * incarnation listed again in a later membership (its partition healed) is taken off.
   */
  readonly departed: readonly string[];
  /**
   * The last fencing token or term issued for any name (decimal string; "0" before the first).
   * Every token and term is drawn above it, so tokens (and terms) increase strictly across the
   * whole machine, and per name even across the deletion and re-creation of its entry. A state
   * of the first format (before version 0.x of this package) has none: see state-format.ts.
   */
  readonly issued: string;
}

/** How many departed incarnations the state remembers. */
export const DEPARTED_MAX = 1024;

/** The empty state. */
export function initialLocksState(): LocksState {
  return { locks: {}, elections: {}, departed: [], issued: '0' };
}
