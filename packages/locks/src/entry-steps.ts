/**
 * What a lock machine command does to the one lock or election it names: ONE implementation,
 * called on an immer draft by `apply` (machine.ts, the reference) and on a private copy by
 * `reduceLocks` (reduce.ts, what replicas run). Both hand in something writable with the
 * entry's fields; the functions here change it in place and return the command's result (or
 * throw, and the caller discards the change). What differs between the two callers, and what
 * test/reduce.property.test.ts compares them on, is only how the entry is obtained and put back
 * (copying, key order, patches).
 *
 * Values shared with the state before (a holder, a leader) are replaced, never written: a
 * private copy shares them with the previous state, which must stay untouched.
 * @module
 */
import type { ApplyContext } from '@cpgkit/statemachine';
import type {
  AcquireCommand,
  AcquireResult,
  CampaignCommand,
  CampaignResult,
  ProclaimResult,
  ReleaseResult,
  RenewResult,
  ResignResult,
} from './commands.js';
import { LockKindMismatchError, NotHolderError, NotOwnerError, OwnerGoneError } from './errors.js';
import { acquireTerms, canGrant, checkName, checkOwnName, checkTtl, ownerOf } from './rules.js';
import type { Candidate, ElectionEntry, Json, LockEntry, LockHolder, LockWaiter } from './state.js';

/** A lock being changed: an immer draft of a `LockEntry`, or a private copy of one. */
export interface WEntry {
  kind: LockEntry['kind'];
  limit: number;
  token: string;
  holders: LockHolder[];
  waiters: LockWaiter[];
  blockedUntil: number | null;
}

/** An election being changed (see `WEntry`). */
export interface WElection {
  term: string;
  leader: Candidate | null;
  candidates: Candidate[];
  blockedUntil: number | null;
}

/**
 * Hands out the next fencing token or term at replicated time `time`, from the machine-wide
 * counter (`LocksState.issued`): above every token and term issued before, for any name.
 */
export type Issue = (time: number) => string;

/** A new lock entry (key order is what snapshots keep). */
export function newEntry(): WEntry {
  return { kind: null, limit: 1, token: '0', holders: [], waiters: [], blockedUntil: null };
}

/**
 * A writable copy of lock `e` in `LockEntry`'s key order (`newEntry`'s, which every entry has:
 * each is made by `newEntry` or copied from one, under immer too, and JSON keeps it); its holders
 * and waiters are shared, and replaced rather than written (see the module's notes). A literal,
 * not a spread: entries reach here with several hidden classes (`newEntry`'s, a copy's, a
 * snapshot's), and the spread of them was 6% of a contended lock command's CPU (`locks.ts
 * --cpu-only --contended`); this is under 1%.
 */
export function copyEntry(e: LockEntry): WEntry {
  return {
    kind: e.kind,
    limit: e.limit,
    token: e.token,
    holders: e.holders.slice(),
    waiters: e.waiters.slice(),
    blockedUntil: e.blockedUntil,
  };
}

/** A new election entry. */
export function newElection(): WElection {
  return { term: '0', leader: null, candidates: [], blockedUntil: null };
}

function grantHead(e: WEntry, time: number, issue: Issue): void {
  const w = e.waiters.shift();
  if (w === undefined) return;
  const token = issue(time);
  e.token = token;
  e.holders.push({
    id: w.id,
    owner: w.owner,
    mode: w.mode,
    token,
    since: time,
    ttl: w.ttl,
    expires: w.ttl === null ? null : time + w.ttl,
  });
}

/**
 * Grant waiters in FIFO order while the head fits (the head blocks everyone behind it), once
 * a due failover block is cleared; an entry left with nobody goes idle (`kind` null).
 */
export function grantWaiters(e: WEntry, time: number, issue: Issue): void {
  if (e.blockedUntil !== null && time >= e.blockedUntil) e.blockedUntil = null;
  if (e.blockedUntil === null) {
    for (let head = e.waiters[0]; head !== undefined && canGrant(e, head.mode); head = e.waiters[0])
      grantHead(e, time, issue);
  }
  if (e.holders.length === 0 && e.waiters.length === 0) e.kind = null;
}

/** Elect the head candidate when nobody leads and the election is not blocked. */
export function electNext(e: WElection, time: number, issue: Issue): void {
  if (e.blockedUntil !== null && time >= e.blockedUntil) e.blockedUntil = null;
  if (e.leader === null && e.blockedUntil === null) {
    const next = e.candidates.shift();
    if (next !== undefined) {
      e.term = issue(time);
      e.leader = next;
    }
  }
}

/** `acquire` on lock `entry` (a new entry when the name had none). */
export function acquireOn(
  departed: readonly string[],
  entry: WEntry,
  cmd: AcquireCommand,
  ctx: ApplyContext,
  issue: Issue,
): AcquireResult {
  const owner = ownerOf(ctx);
  const { ttl, limit } = acquireTerms(departed, owner, cmd);
  const held = entry.holders.find((h) => h.id === cmd.id);
  if (held !== undefined) return { status: 'granted', token: held.token, expires: held.expires };
  const queued = entry.waiters.findIndex((w) => w.id === cmd.id);
  if (queued >= 0) return { status: 'queued', position: queued };
  grantWaiters(entry, ctx.time, issue);
  const busy = entry.holders.length > 0 || entry.waiters.length > 0;
  if (busy && (entry.kind !== cmd.kind || entry.limit !== limit)) {
    const what =
      entry.kind === 'semaphore' ? `a semaphore with ${entry.limit} permits` : `a ${entry.kind}`;
    throw new LockKindMismatchError(
      `'${cmd.name}' is in use as ${what}; asked for a ${cmd.kind}${cmd.kind === 'semaphore' ? ` with ${limit} permits` : ''}`,
    );
  }
  entry.kind = cmd.kind;
  entry.limit = limit;
  const waiter: LockWaiter = { id: cmd.id, owner, mode: cmd.mode, ttl, since: ctx.time };
  const blocked = entry.blockedUntil !== null && ctx.time < entry.blockedUntil;
  if (entry.waiters.length === 0 && !blocked && canGrant(entry, cmd.mode)) {
    entry.waiters.push(waiter);
    grantHead(entry, ctx.time, issue);
    const h = entry.holders[entry.holders.length - 1]!;
    return { status: 'granted', token: h.token, expires: h.expires };
  }
  if (!cmd.wait) {
    if (!busy) entry.kind = null;
    return { status: 'busy' };
  }
  entry.waiters.push(waiter);
  return { status: 'queued', position: entry.waiters.length - 1 };
}

/** `release` or `withdraw` of request `id` on lock `name`, which exists. */
export function releaseOn(
  entry: WEntry,
  id: string,
  name: string,
  ctx: ApplyContext,
  issue: Issue,
): ReleaseResult {
  const me = ctx.sender.incarnation;
  const h = entry.holders.findIndex((x) => x.id === id);
  if (h >= 0) {
    if (entry.holders[h]!.owner.incarnation !== me)
      throw new NotOwnerError(`lock '${name}' (${id}) belongs to another incarnation`);
    entry.holders.splice(h, 1);
    grantWaiters(entry, ctx.time, issue);
    return { released: 'held' };
  }
  const w = entry.waiters.findIndex((x) => x.id === id);
  if (w >= 0) {
    if (entry.waiters[w]!.owner.incarnation !== me)
      throw new NotOwnerError(`request '${name}' (${id}) belongs to another incarnation`);
    entry.waiters.splice(w, 1);
    grantWaiters(entry, ctx.time, issue);
    return { released: 'waiting' };
  }
  return { released: 'none' };
}

/** `renew` of held request `id` on lock `name` (a new, empty entry when it had none). */
export function renewOn(
  entry: WEntry,
  id: string,
  name: string,
  ttlIn: number,
  ctx: ApplyContext,
): RenewResult {
  const ttl = checkTtl(ttlIn)!;
  checkOwnName(name);
  const i = entry.holders.findIndex((x) => x.id === id);
  const h = entry.holders[i];
  if (h === undefined) throw new NotHolderError(`lock '${name}' (${id}) is not held (any more)`);
  if (h.owner.incarnation !== ctx.sender.incarnation)
    throw new NotOwnerError(`lock '${name}' (${id}) belongs to another incarnation`);
  const expires = ctx.time + ttl;
  // the holder may be shared with the state before: replaced, never written
  entry.holders[i] = { ...h, ttl, expires };
  return { expires };
}

/** `campaign` on election `e` (a new entry when the name had none). */
export function campaignOn(
  departed: readonly string[],
  e: WElection,
  cmd: CampaignCommand,
  ctx: ApplyContext,
  issue: Issue,
): CampaignResult {
  const owner = ownerOf(ctx);
  if (departed.includes(owner.incarnation)) {
    throw new OwnerGoneError(`incarnation ${owner.incarnation} already left the group`);
  }
  checkName(cmd.name);
  checkOwnName(cmd.name);
  if (e.leader?.id === cmd.id) return { status: 'leader', term: e.term };
  const pos = e.candidates.findIndex((c) => c.id === cmd.id);
  if (pos >= 0) return { status: 'candidate', position: pos };
  electNext(e, ctx.time, issue);
  e.candidates.push({ id: cmd.id, owner, value: cmd.value, since: ctx.time });
  electNext(e, ctx.time, issue);
  if (e.leader?.id === cmd.id) return { status: 'leader', term: e.term };
  return { status: 'candidate', position: e.candidates.length - 1 };
}

/** `resign` of campaign `id` on election `name`, which exists. */
export function resignOn(
  e: WElection,
  id: string,
  name: string,
  ctx: ApplyContext,
  issue: Issue,
): ResignResult {
  const me = ctx.sender.incarnation;
  if (e.leader?.id === id) {
    if (e.leader.owner.incarnation !== me)
      throw new NotOwnerError(`leadership of '${name}' belongs to another incarnation`);
    e.leader = null;
    electNext(e, ctx.time, issue);
    return { resigned: 'leader' };
  }
  const pos = e.candidates.findIndex((c) => c.id === id);
  if (pos >= 0) {
    if (e.candidates[pos]!.owner.incarnation !== me)
      throw new NotOwnerError(`candidacy for '${name}' belongs to another incarnation`);
    e.candidates.splice(pos, 1);
    return { resigned: 'candidate' };
  }
  return { resigned: 'none' };
}

/** `proclaim` by leader `id` of election `name` (a new, empty entry when it had none). */
export function proclaimOn(
  e: WElection,
  id: string,
  name: string,
  value: Json,
  ctx: ApplyContext,
): ProclaimResult {
  checkOwnName(name);
  const leader = e.leader;
  if (leader?.id !== id) throw new NotHolderError(`not the leader of '${name}' (any more)`);
  if (leader.owner.incarnation !== ctx.sender.incarnation)
    throw new NotOwnerError(`leadership of '${name}' belongs to another incarnation`);
  // the leader may be shared with the state before: replaced, never written
  e.leader = { ...leader, value };
  return { term: e.term };
}

/** Whether `grantWaiters` would change `e` at `time` (clear a due block, grant, go idle). */
export function grantsChange(e: LockEntry, time: number): boolean {
  if (e.blockedUntil !== null && time >= e.blockedUntil) return true;
  if (e.holders.length === 0 && e.waiters.length === 0) return e.kind !== null;
  const head = e.waiters[0];
  return e.blockedUntil === null && head !== undefined && canGrant(e, head.mode);
}

/** Whether `electNext` would change `e` at `time` (clear a due block, elect). */
export function electsChange(e: ElectionEntry, time: number): boolean {
  if (e.blockedUntil !== null && time >= e.blockedUntil) return true;
  return e.leader === null && e.blockedUntil === null && e.candidates.length > 0;
}
