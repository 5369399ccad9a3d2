/**
 * The lock machine's commands without immer: `reduceLocks` is a pure function that copies the
 * one lock (or election) a command touches, its holder and waiter arrays, and the record and
 * state object that lead to it, and shares everything else with the state it was given. What a
 * command does to its entry is entry-steps.ts, the same functions `apply` (machine.ts, under
 * immer, the reference) calls on a draft; what is reduce's own is the copy, putting it back in
 * the record at its place (key order), and the patches. The two must give the same result, the
 * same error and the same next state as JSON, key order included, so that replicas running
 * either agree on every digest and snapshot (test/reduce.property.test.ts compares them on
 * random schedules).
 *
 * Why: immer's copy of the `locks` record (a spread of every lock name ever used, about 40 ns
 * a name) plus its proxies and the walk of the copy when it finalises were a third of a lock
 * command's CPU. The record is still copied here (one spread: the state's layout, and with it
 * its JSON and digest, is unchanged), the rest is gone.
 * @module
 */
import type { Patch } from 'immer';
import type { ApplyContext } from '@cpgkit/statemachine';
import type { LocksCommand, LocksResult } from './commands.js';
import { checkOwnName } from './rules.js';
import {
  acquireOn,
  campaignOn,
  copyEntry,
  newElection,
  newEntry,
  proclaimOn,
  releaseOn,
  renewOn,
  resignOn,
  type Issue,
  type WElection,
  type WEntry,
} from './entry-steps.js';
import { lockChanged } from './deadlines.js';
import { isFreeLock, migrateLocksState, needsMigration } from './state-format.js';
import { lockOf, withLock } from './lock-table.js';
import type { ElectionEntry, LockEntry, LocksState } from './state.js';
import { nextToken, type TokenScheme } from './tokens.js';

/** What `reduceLocks` returns: the next state (or `state` itself) and the command's result. */
export interface Reduced {
  readonly state: LocksState;
  readonly result: LocksResult;
}

function copyElection(e: ElectionEntry | undefined): WElection {
  if (e === undefined) return newElection();
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
 * `next` (a copy of `state`) with `issued` set, and its patch, when the step issued a token or
 * a term. Copies are a spread of `state` and stores into members it has (a spread of the
 * state, the new member and a spread of `{ issued }` built each object twice, ~5% of a lock
 * command); the key order is the same.
 */
function withIssued(
  next: { -readonly [K in keyof LocksState]: LocksState[K] },
  state: LocksState,
  issued: string,
  patches: Patch[] | undefined,
): LocksState {
  if (issued === state.issued) return next;
  patches?.push({ op: 'replace', path: ['issued'], value: issued });
  next.issued = issued;
  return next;
}

/**
 * `state` with lock `name` set to `value`, or deleted when `value` is `undefined`, and `issued`
 * set: a new `SortedRecord` of the locks (two array copies, lock-table.ts) and state object.
 */
function withLockEntry(
  state: LocksState,
  name: string,
  value: LockEntry | undefined,
  existed: boolean,
  issued: string,
  patches: Patch[] | undefined,
): LocksState {
  if (value !== undefined)
    patches?.push({ op: existed ? 'replace' : 'add', path: ['locks', name], value });
  else if (existed) patches?.push({ op: 'remove', path: ['locks', name] });
  if (!existed && value === undefined) return withIssued({ ...state }, state, issued, patches);
  const locks = withLock(state.locks, name, value);
  lockChanged(state.locks, locks, name, value);
  const next = { ...state };
  next.locks = locks;
  return withIssued(next, state, issued, patches);
}

/**
 * `state` with `elections[name]` set to `value` and `issued` set: a copy of the record and of
 * the state object, nothing else. An existing name keeps its place in the record, a new one
 * goes last (as under immer).
 */
function withElection(
  state: LocksState,
  name: string,
  value: ElectionEntry,
  existed: boolean,
  issued: string,
  patches: Patch[] | undefined,
): LocksState {
  const elections: Record<string, ElectionEntry> = { ...state.elections };
  elections[name] = value;
  patches?.push({ op: existed ? 'replace' : 'add', path: ['elections', name], value });
  const next = { ...state };
  next.elections = elections;
  return withIssued(next, state, issued, patches);
}

/**
 * The state a command starts from (a first-format state migrated: its patches go first; on a
 * throw the machine drops every patch the command pushed), and what it issued.
 */
class Step {
  readonly state: LocksState;
  issued: string;
  readonly issue: Issue;

  constructor(
    given: LocksState,
    scheme: TokenScheme,
    readonly patches: Patch[] | undefined,
  ) {
    this.state = needsMigration(given) ? migrateLocksState(given, patches) : given;
    this.issued = this.state.issued;
    this.issue = (time) => (this.issued = nextToken(this.issued, time, scheme));
  }

  /** The outcome: `next` (the state, or `undefined`: unchanged) and `result`. */
  done(next: LocksState | undefined, result: LocksResult): Reduced {
    return { state: next ?? this.state, result };
  }
}

/**
 * Apply one lock machine command to `state` without modifying it. Same rules, results and
 * errors as `locksMachine().apply` under immer (which stays the reference); a state of the
 * first format is migrated first (state-format.ts).
 * @param scheme - how tokens and terms are numbered
 * @param patches - when given, immer-format patches from `state` to the result are pushed
 *   onto it (the migration's, then one `add`/`replace`/`remove` of the lock or election the
 *   command changed and a `replace` of `issued` when it issued a token or term)
 */
export function reduceLocks(
  state: LocksState,
  cmd: LocksCommand,
  ctx: ApplyContext,
  scheme: TokenScheme,
  patches?: Patch[],
): Reduced {
  const st = new Step(state, scheme, patches);
  const s = st.state;
  const issue = st.issue;
  switch (cmd.type) {
    case 'acquire':
      return lockStep(st, cmd.name, (e) => acquireOn(s.departed, e, cmd, ctx, issue));
    case 'release':
    case 'withdraw':
      checkOwnName(cmd.name);
      if (lockOf(s.locks, cmd.name) === undefined) return st.done(undefined, { released: 'none' });
      return lockStep(st, cmd.name, (e) => releaseOn(e, cmd.id, cmd.name, ctx, issue));
    case 'renew':
      return lockStep(st, cmd.name, (e) => renewOn(e, cmd.id, cmd.name, cmd.ttl, ctx));
    case 'campaign':
      return electionStep(st, cmd.name, (e) => campaignOn(s.departed, e, cmd, ctx, issue));
    case 'resign':
      checkOwnName(cmd.name);
      if (!Object.hasOwn(s.elections, cmd.name)) return st.done(undefined, { resigned: 'none' });
      return electionStep(st, cmd.name, (e) => resignOn(e, cmd.id, cmd.name, ctx, issue));
    case 'proclaim':
      return electionStep(st, cmd.name, (e) => proclaimOn(e, cmd.id, cmd.name, cmd.value, ctx));
  }
}

/** Run `step` on a copy of lock `name`; put the copy back if it changed, or delete it if free. */
function lockStep(st: Step, name: string, step: (e: WEntry) => LocksResult): Reduced {
  const state = st.state;
  const before = lockOf(state.locks, name);
  const existed = before !== undefined;
  const w = before === undefined ? newEntry() : copyEntry(before);
  const result = step(w);
  const free = isFreeLock(w);
  if (before !== undefined ? !free && sameEntry(before, w) : free && st.issued === state.issued)
    return st.done(undefined, result);
  const value = free ? undefined : w;
  return st.done(withLockEntry(state, name, value, existed, st.issued, st.patches), result);
}

/** Run `step` on a copy of election `name` and put the copy back if it changed (kept when free). */
function electionStep(st: Step, name: string, step: (e: WElection) => LocksResult): Reduced {
  const state = st.state;
  const existed = Object.hasOwn(state.elections, name);
  const before = existed ? state.elections[name] : undefined;
  const w = copyElection(before);
  const result = step(w);
  if (before !== undefined && sameElection(before, w)) return st.done(undefined, result);
  return st.done(withElection(state, name, w, existed, st.issued, st.patches), result);
}
