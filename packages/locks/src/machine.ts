/**
 * The lock machine: locks, semaphores, read-write locks and elections as one replicated
 * state machine. Every function here is pure and deterministic: the same commands, membership
 * steps and ticks in the same order give the same state on every member.
 * @module
 */
import { isDraft, original, type Draft } from 'immer';
import type { MachineDefinition, MembershipContext, TickContext } from '@cpgkit/statemachine';
import type { LocksCommand, LocksResult } from './commands.js';
import { isLocksCommand } from './commands.js';
import {
  DEPARTED_MAX,
  initialLocksState,
  type LockEntry,
  type LockHolder,
  type LocksState,
  type Owner,
} from './state.js';
import { nextToken, type TokenScheme } from './tokens.js';
import { checkOwnName } from './rules.js';
import { isFreeLock, largestIssued, LOCKS_STATE_FORMAT, needsMigration } from './state-format.js';
import {
  acquireOn,
  campaignOn,
  electNext,
  electsChange,
  grantsChange,
  grantWaiters,
  newElection,
  proclaimOn,
  releaseOn,
  renewOn,
  resignOn,
  type Issue,
  type WElection,
} from './entry-steps.js';
import { reduceLocks } from './reduce.js';
import { lockList, lockListSorted } from './lock-table.js';
import { lockWriter } from './lock-writer.js';
import { nextDeadline } from './deadlines.js';

export { canGrant, MAX_NAME_LENGTH, MAX_TTL } from './rules.js';

/** The lock machine's name unless told otherwise (its group's and data files'; frames carry `cpgkit.locks@3`). */
export const LOCKS_MACHINE_NAME = 'cpgkit.locks';

/** Options of `locksMachine`. */
export interface LocksMachineOptions {
  /**
   * The machine name (members with another name ignore each other): the CPG group's default
   * name and the data files' name; frames carry `name@3` (state format 3, state-format.ts), so
   * replicas of the first format ignore these too.
   * @defaultValue `'cpgkit.locks'`
   */
  readonly name?: string;
  /**
   * How tokens and terms are numbered; see `TokenScheme`.
   * @defaultValue `'clock'`
   */
  readonly tokens?: TokenScheme;
  /**
   * Replicated ms to wait before granting a lock (or electing a leader) that was taken away
   * from its holder against its will (it left the group, or its lease ran out). Gives a holder
   * cut off in a minority time to see its quorum loss and stop before anyone else starts.
   * Voluntary releases hand over at once.
   * @defaultValue `0`
   */
  readonly failoverDelay?: number;
}

type DState = Draft<LocksState>;

/** What a draft was made from (reads without making drafts), or the object itself. */
function baseOf<T extends object>(x: Draft<T>): T {
  return (isDraft(x) ? original(x) : x) as T;
}

/** The draft's locks, a plain object (a draft, or `draftableLocks`' copy). */
function locksOf(d: DState): Record<string, LockEntry> {
  return d.locks as Record<string, LockEntry>;
}

/** A draft election entry as entry-steps.ts writes it. */
function electionDraft(d: DState, name: string): WElection {
  return d.elections[name] as unknown as WElection;
}

/**
 * A first-format state (no machine-wide counter) in the current format, in place: the same
 * result, key order included, as `migrateLocksState` (state-format.ts), which reduceLocks uses.
 */
function migrateDraft(draft: DState): void {
  const base = baseOf(draft);
  if (!needsMigration(base)) return;
  for (const [name, e] of lockList(base.locks)) if (isFreeLock(e)) delete locksOf(draft)[name];
  draft.issued = largestIssued(base);
}

/**
 * The lock machine definition, to open with `ReplicatedStateMachine.open(group, locksMachine())`.
 *
 * @example
 * ```ts
 * const machine = await ReplicatedStateMachine.open(group, locksMachine({ failoverDelay: 0 }));
 * const locks = new Locks(machine);
 * ```
 */
export function locksMachine(
  options: LocksMachineOptions = {},
): MachineDefinition<LocksState, LocksCommand, LocksResult> {
  const scheme: TokenScheme = options.tokens ?? 'clock';
  const delay = options.failoverDelay ?? 0;

  /** Tokens and terms for a change of `draft`: from, and into, its machine-wide counter. */
  function issuerOf(draft: DState): Issue {
    return (time) => (draft.issued = nextToken(draft.issued, time, scheme));
  }

  function block(current: number | null, time: number): number | null {
    if (delay <= 0) return current;
    return Math.max(current ?? 0, time + delay);
  }

  return {
    name: options.name ?? LOCKS_MACHINE_NAME,
    // frames carry `name@3`: replicas of older formats ignore us, and we them (state-format.ts)
    format: LOCKS_STATE_FORMAT,
    initial: initialLocksState,
    isCommand: isLocksCommand,

    // what the machine applies commands with; `apply` below is the same under immer
    reduce: (state, cmd, ctx, patches) => reduceLocks(state, cmd, ctx, scheme, patches),

    apply(draft, cmd, ctx): LocksResult {
      migrateDraft(draft);
      const issue = issuerOf(draft);
      const name = cmd.name;
      switch (cmd.type) {
        case 'acquire': {
          const departed = baseOf(draft).departed;
          const w = lockWriter(draft);
          const r = acquireOn(departed, w.entry(name), cmd, ctx, issue);
          w.dropIfFree(name);
          w.done();
          return r;
        }
        case 'release':
        case 'withdraw': {
          checkOwnName(name);
          const w = lockWriter(draft);
          if (!w.has(name)) return { released: 'none' };
          const r = releaseOn(w.entry(name), cmd.id, name, ctx, issue);
          w.dropIfFree(name);
          w.done();
          return r;
        }
        case 'renew': {
          const w = lockWriter(draft);
          const r = renewOn(w.entry(name), cmd.id, name, cmd.ttl, ctx);
          w.done();
          return r;
        }
        case 'campaign': {
          const departed = baseOf(draft).departed;
          draft.elections[name] ??= newElection();
          return campaignOn(departed, electionDraft(draft, name), cmd, ctx, issue);
        }
        case 'resign':
          checkOwnName(name);
          if (draft.elections[name] === undefined) return { resigned: 'none' };
          return resignOn(electionDraft(draft, name), cmd.id, name, ctx, issue);
        case 'proclaim':
          draft.elections[name] ??= newElection();
          return proclaimOn(electionDraft(draft, name), cmd.id, name, cmd.value, ctx);
      }
    },

    onMembership(draft, change: MembershipContext): void {
      migrateDraft(draft);
      const issue = issuerOf(draft);
      // a member that is back (a partition healed: same incarnation) may ask again
      if (draft.departed.length > 0 && change.members.length > 0) {
        const here = new Set(change.members.map((m) => m.incarnation));
        if (draft.departed.some((i) => here.has(i)))
          draft.departed = draft.departed.filter((i) => !here.has(i));
      }
      if (change.left.length === 0) return;
      const gone = new Set(change.left.map((m) => m.incarnation));
      for (const inc of gone) if (!draft.departed.includes(inc)) draft.departed.push(inc);
      if (draft.departed.length > DEPARTED_MAX)
        draft.departed.splice(0, draft.departed.length - DEPARTED_MAX);
      const time = change.time;
      // only the locks and elections this changes become drafts (a draft per name, and the
      // walk of every draft when immer finalises, cost as much as the rest of a command)
      const mine = (x: { readonly owner: Owner }): boolean => gone.has(x.owner.incarnation);
      const w = lockWriter(draft);
      for (const [name, base] of lockListSorted(w.base)) {
        if (base.holders.length === 0 && base.waiters.length === 0) continue;
        if (!base.holders.some(mine) && !base.waiters.some(mine) && !grantsChange(base, time))
          continue;
        const entry = w.entry(name);
        const before = entry.holders.length;
        entry.holders = entry.holders.filter((h) => !gone.has(h.owner.incarnation));
        entry.waiters = entry.waiters.filter((x) => !gone.has(x.owner.incarnation));
        if (entry.holders.length < before) entry.blockedUntil = block(entry.blockedUntil, time);
        grantWaiters(entry, time, issue);
        w.dropIfFree(name);
      }
      w.done();
      // in name order, as the locks above: the terms come from one counter, so the order
      // decides which election gets which, and a record's own order is how it was built
      const elections = baseOf(draft.elections);
      for (const name of Object.keys(elections).sort()) {
        const base = elections[name]!;
        const leaderGone = base.leader !== null && mine(base.leader);
        if (!leaderGone && !base.candidates.some(mine) && !electsChange(base, time)) continue;
        const e = electionDraft(draft, name);
        e.candidates = e.candidates.filter((c) => !gone.has(c.owner.incarnation));
        if (e.leader !== null && gone.has(e.leader.owner.incarnation)) {
          e.leader = null;
          e.blockedUntil = block(e.blockedUntil, time);
        }
        electNext(e, time, issue);
      }
    },

    onTick(draft, ctx: TickContext): void {
      migrateDraft(draft);
      const issue = issuerOf(draft);
      const time = ctx.time;
      // as in onMembership: drafts only of what the tick changes
      const expired = (h: LockHolder): boolean => h.expires !== null && h.expires <= time;
      const w = lockWriter(draft);
      for (const [name, base] of lockListSorted(w.base)) {
        if (base.holders.length === 0 && base.blockedUntil === null) continue;
        if (!base.holders.some(expired) && !grantsChange(base, time)) continue;
        const entry = w.entry(name);
        const before = entry.holders.length;
        entry.holders = entry.holders.filter((h) => !expired(h));
        if (entry.holders.length < before) entry.blockedUntil = block(entry.blockedUntil, time);
        grantWaiters(entry, time, issue);
        w.dropIfFree(name);
      }
      w.done();
      const elections = baseOf(draft.elections);
      for (const name of Object.keys(elections).sort()) {
        if (!electsChange(elections[name]!, time)) continue;
        electNext(electionDraft(draft, name), time, issue);
      }
    },

    // remembered per record, derived by reduceLocks from the record before (deadlines.ts)
    nextDeadline,
  };
}
