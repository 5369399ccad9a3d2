/**
 * The lock machine's commands without immer: `reduceLocks` is a pure function that copies the
 * one lock (or election) a command touches, its holder and waiter arrays, and the record and
 * state object that lead to it, and shares everything else with the state it was given. It
 * keeps the rules of `apply` in machine.ts (applied under immer), which stays the reference:
 * the two must give the same result, the same error and the same next state as JSON, key
 * order included, so that replicas running either agree on every digest and snapshot
 * (test/reduce.property.test.ts compares them on random schedules).
 *
 * Why: immer's copy of the `locks` record (a spread of every lock name ever used, about 40 ns
 * a name) plus its proxies and the walk of the copy when it finalises were a third of a lock
 * command's CPU. The record is still copied here (one spread: the state's layout, and with it
 * its JSON and digest, is unchanged), the rest is gone.
 * @module
 */
import type { Patch } from 'immer';
import type { ApplyContext } from '@cpgkit/statemachine';
import type {
  AcquireCommand,
  AcquireResult,
  CampaignCommand,
  CampaignResult,
  LocksCommand,
  LocksResult,
  ProclaimResult,
  ReleaseResult,
  RenewResult,
  ResignResult,
} from './commands.js';
import { LockKindMismatchError, NotHolderError, NotOwnerError, OwnerGoneError } from './errors.js';
import { acquireTerms, canGrant, checkName, checkOwnName, checkTtl, ownerOf } from './rules.js';
import { lockChanged } from './deadlines.js';
import type {
  Candidate,
  ElectionEntry,
  Json,
  LockEntry,
  LockHolder,
  LockWaiter,
  LocksState,
} from './state.js';
import { nextToken, type TokenScheme } from './tokens.js';

/** A lock this command may change: a private copy, written in place until it is put back. */
interface WEntry {
  kind: LockEntry['kind'];
  limit: number;
  token: string;
  holders: LockHolder[];
  waiters: LockWaiter[];
  blockedUntil: number | null;
}

/** An election this command may change (see `WEntry`). */
interface WElection {
  term: string;
  leader: Candidate | null;
  candidates: Candidate[];
  blockedUntil: number | null;
}

/** What `reduceLocks` returns: the next state (or `state` itself) and the command's result. */
export interface Reduced {
  readonly state: LocksState;
  readonly result: LocksResult;
}

/** A writable copy of `e` (or a new entry), keeping its key order (snapshots keep it). */
function copyEntry(e: LockEntry | undefined): WEntry {
  if (e === undefined)
    return { kind: null, limit: 1, token: '0', holders: [], waiters: [], blockedUntil: null };
  return { ...e, holders: e.holders.slice(), waiters: e.waiters.slice() };
}

function copyElection(e: ElectionEntry | undefined): WElection {
  if (e === undefined) return { term: '0', leader: null, candidates: [], blockedUntil: null };
  return { ...e, candidates: e.candidates.slice() };
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameEntry(a: LockEntry, w: WEntry): boolean {
  return (
    a.kind === w.kind &&
    a.limit === w.limit &&
    a.token === w.token &&
    a.blockedUntil === w.blockedUntil &&
    sameItems(a.holders, w.holders) &&
    sameItems(a.waiters, w.waiters)
  );
}

function sameElection(a: ElectionEntry, w: WElection): boolean {
  return (
    a.term === w.term &&
    a.leader === w.leader &&
    a.blockedUntil === w.blockedUntil &&
    sameItems(a.candidates, w.candidates)
  );
}

/**
 * `state` with `locks[name]` (or `elections[name]`) set to `value`: a copy of the record and
 * of the state object, nothing else. An existing name keeps its place in the record, a new
 * one goes last (as under immer).
 */
function withMember(
  state: LocksState,
  field: 'locks' | 'elections',
  name: string,
  value: LockEntry | ElectionEntry,
  existed: boolean,
  patches: Patch[] | undefined,
): LocksState {
  const record: Record<string, LockEntry | ElectionEntry> = { ...state[field] };
  record[name] = value;
  patches?.push({ op: existed ? 'replace' : 'add', path: [field, name], value });
  if (field === 'locks')
    lockChanged(state.locks, record as LocksState['locks'], name, value as LockEntry);
  return { ...state, [field]: record };
}

/**
 * Apply one lock machine command to `state` without modifying it. Same rules, results and
 * errors as `locksMachine().apply` under immer (which stays the reference).
 * @param scheme - how tokens and terms are numbered
 * @param patches - when given, immer-format patches from `state` to the result are pushed
 *   onto it (one `add`/`replace` of the lock or election the command changed)
 */
export function reduceLocks(
  state: LocksState,
  cmd: LocksCommand,
  ctx: ApplyContext,
  scheme: TokenScheme,
  patches?: Patch[],
): Reduced {
  switch (cmd.type) {
    case 'acquire':
      return lockStep(state, cmd.name, patches, (e) => acquire(state, e, cmd, ctx, scheme));
    case 'release':
    case 'withdraw':
      checkOwnName(cmd.name);
      if (!Object.hasOwn(state.locks, cmd.name)) return { state, result: { released: 'none' } };
      return lockStep(state, cmd.name, patches, (e) => release(e, cmd.id, cmd.name, ctx, scheme));
    case 'renew':
      return lockStep(state, cmd.name, patches, (e) => renew(e, cmd.id, cmd.name, cmd.ttl, ctx));
    case 'campaign':
      return electionStep(state, cmd.name, patches, (e) => campaign(state, e, cmd, ctx, scheme));
    case 'resign':
      checkOwnName(cmd.name);
      if (!Object.hasOwn(state.elections, cmd.name)) return { state, result: { resigned: 'none' } };
      return electionStep(state, cmd.name, patches, (e) =>
        resign(e, cmd.id, cmd.name, ctx, scheme),
      );
    case 'proclaim':
      return electionStep(state, cmd.name, patches, (e) =>
        proclaim(e, cmd.id, cmd.name, cmd.value, ctx),
      );
  }
}

/** Run `step` on a copy of lock `name` and put the copy back if it changed. */
function lockStep(
  state: LocksState,
  name: string,
  patches: Patch[] | undefined,
  step: (e: WEntry) => LocksResult,
): Reduced {
  const existed = Object.hasOwn(state.locks, name);
  const before = existed ? state.locks[name] : undefined;
  const w = copyEntry(before);
  const result = step(w);
  if (before !== undefined && sameEntry(before, w)) return { state, result };
  return { state: withMember(state, 'locks', name, w, existed, patches), result };
}

/** Run `step` on a copy of election `name` and put the copy back if it changed. */
function electionStep(
  state: LocksState,
  name: string,
  patches: Patch[] | undefined,
  step: (e: WElection) => LocksResult,
): Reduced {
  const existed = Object.hasOwn(state.elections, name);
  const before = existed ? state.elections[name] : undefined;
  const w = copyElection(before);
  const result = step(w);
  if (before !== undefined && sameElection(before, w)) return { state, result };
  return { state: withMember(state, 'elections', name, w, existed, patches), result };
}

function grantHead(e: WEntry, time: number, scheme: TokenScheme): void {
  const w = e.waiters.shift();
  if (w === undefined) return;
  const token = nextToken(e.token, time, scheme);
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

/** Grant waiters in FIFO order while the head fits (as machine.ts's `grantWaiters`). */
function grantWaiters(e: WEntry, time: number, scheme: TokenScheme): void {
  if (e.blockedUntil !== null && time >= e.blockedUntil) e.blockedUntil = null;
  if (e.blockedUntil === null) {
    for (let head = e.waiters[0]; head !== undefined && canGrant(e, head.mode); head = e.waiters[0])
      grantHead(e, time, scheme);
  }
  if (e.holders.length === 0 && e.waiters.length === 0) e.kind = null;
}

function electNext(e: WElection, time: number, scheme: TokenScheme): void {
  if (e.blockedUntil !== null && time >= e.blockedUntil) e.blockedUntil = null;
  if (e.leader === null && e.blockedUntil === null) {
    const next = e.candidates.shift();
    if (next !== undefined) {
      e.term = nextToken(e.term, time, scheme);
      e.leader = next;
    }
  }
}

function acquire(
  state: LocksState,
  entry: WEntry,
  cmd: AcquireCommand,
  ctx: ApplyContext,
  scheme: TokenScheme,
): AcquireResult {
  const owner = ownerOf(ctx);
  const { ttl, limit } = acquireTerms(state.departed, owner, cmd);
  const held = entry.holders.find((h) => h.id === cmd.id);
  if (held !== undefined) return { status: 'granted', token: held.token, expires: held.expires };
  const queued = entry.waiters.findIndex((w) => w.id === cmd.id);
  if (queued >= 0) return { status: 'queued', position: queued };
  grantWaiters(entry, ctx.time, scheme);
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
    grantHead(entry, ctx.time, scheme);
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

function release(
  entry: WEntry,
  id: string,
  name: string,
  ctx: ApplyContext,
  scheme: TokenScheme,
): ReleaseResult {
  const me = ctx.sender.incarnation;
  const h = entry.holders.findIndex((x) => x.id === id);
  if (h >= 0) {
    if (entry.holders[h]!.owner.incarnation !== me)
      throw new NotOwnerError(`lock '${name}' (${id}) belongs to another incarnation`);
    entry.holders.splice(h, 1);
    grantWaiters(entry, ctx.time, scheme);
    return { released: 'held' };
  }
  const w = entry.waiters.findIndex((x) => x.id === id);
  if (w >= 0) {
    if (entry.waiters[w]!.owner.incarnation !== me)
      throw new NotOwnerError(`request '${name}' (${id}) belongs to another incarnation`);
    entry.waiters.splice(w, 1);
    grantWaiters(entry, ctx.time, scheme);
    return { released: 'waiting' };
  }
  return { released: 'none' };
}

function renew(
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
  // the holder is shared with the state before: replaced, never written
  entry.holders[i] = { ...h, ttl, expires };
  return { expires };
}

function campaign(
  state: LocksState,
  e: WElection,
  cmd: CampaignCommand,
  ctx: ApplyContext,
  scheme: TokenScheme,
): CampaignResult {
  const owner = ownerOf(ctx);
  if (state.departed.includes(owner.incarnation)) {
    throw new OwnerGoneError(`incarnation ${owner.incarnation} already left the group`);
  }
  checkName(cmd.name);
  checkOwnName(cmd.name);
  if (e.leader?.id === cmd.id) return { status: 'leader', term: e.term };
  const pos = e.candidates.findIndex((c) => c.id === cmd.id);
  if (pos >= 0) return { status: 'candidate', position: pos };
  electNext(e, ctx.time, scheme);
  e.candidates.push({ id: cmd.id, owner, value: cmd.value, since: ctx.time });
  electNext(e, ctx.time, scheme);
  if (e.leader?.id === cmd.id) return { status: 'leader', term: e.term };
  return { status: 'candidate', position: e.candidates.length - 1 };
}

function resign(
  e: WElection,
  id: string,
  name: string,
  ctx: ApplyContext,
  scheme: TokenScheme,
): ResignResult {
  const me = ctx.sender.incarnation;
  if (e.leader?.id === id) {
    if (e.leader.owner.incarnation !== me)
      throw new NotOwnerError(`leadership of '${name}' belongs to another incarnation`);
    e.leader = null;
    electNext(e, ctx.time, scheme);
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

function proclaim(
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
  e.leader = { ...leader, value };
  return { term: e.term };
}
