/**
 * The lock machine: locks, semaphores, read-write locks and elections as one replicated
 * state machine. Every function here is pure and deterministic: the same commands, membership
 * steps and ticks in the same order give the same state on every member.
 * @module
 */
import { isDraft, original, type Draft } from 'immer';
import type {
  MachineDefinition,
  MembershipContext,
  TickContext,
  ApplyContext,
} from '@cpgkit/statemachine';
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
import { isLocksCommand } from './commands.js';
import { LockKindMismatchError, NotHolderError, NotOwnerError, OwnerGoneError } from './errors.js';
import {
  DEPARTED_MAX,
  initialLocksState,
  type ElectionEntry,
  type Json,
  type LockEntry,
  type LockHolder,
  type LocksState,
  type Owner,
} from './state.js';
import { nextToken, type TokenScheme } from './tokens.js';
import { acquireTerms, canGrant, checkName, checkOwnName, checkTtl, ownerOf } from './rules.js';
import { reduceLocks } from './reduce.js';
import { nextDeadline } from './deadlines.js';

export { canGrant, MAX_NAME_LENGTH, MAX_TTL } from './rules.js';

/** The name the lock machine uses on the wire and on disk, unless told otherwise. */
export const LOCKS_MACHINE_NAME = 'cpgkit.locks';

/** Options of `locksMachine`. */
export interface LocksMachineOptions {
  /**
   * The machine name (members with another name ignore each other).
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

type DEntry = Draft<LockEntry>;
type DElection = Draft<ElectionEntry>;
type DState = Draft<LocksState>;

function newEntry(): DEntry {
  return { kind: null, limit: 1, token: '0', holders: [], waiters: [], blockedUntil: null };
}

function newElection(): DElection {
  return { term: '0', leader: null, candidates: [], blockedUntil: null };
}

/** What a draft was made from (reads without making drafts), or the object itself. */
function baseOf<T extends object>(x: Draft<T>): T {
  return (isDraft(x) ? original(x) : x) as T;
}

/** Whether `grantWaiters` would change `e` at `time` (clear a due block, grant, go idle). */
function grantsChange(e: LockEntry, time: number): boolean {
  if (e.blockedUntil !== null && time >= e.blockedUntil) return true;
  if (e.holders.length === 0 && e.waiters.length === 0) return e.kind !== null;
  const head = e.waiters[0];
  return e.blockedUntil === null && head !== undefined && canGrant(e, head.mode);
}

/** Whether `electNext` would change `e` at `time` (clear a due block, elect). */
function electsChange(e: ElectionEntry, time: number): boolean {
  if (e.blockedUntil !== null && time >= e.blockedUntil) return true;
  return e.leader === null && e.blockedUntil === null && e.candidates.length > 0;
}

function isBlocked(blockedUntil: number | null, time: number): boolean {
  return blockedUntil !== null && time < blockedUntil;
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

  function grantHead(entry: DEntry, time: number): void {
    const w = entry.waiters.shift();
    if (w === undefined) return;
    const token = nextToken(entry.token, time, scheme);
    entry.token = token;
    entry.holders.push({
      id: w.id,
      owner: w.owner,
      mode: w.mode,
      token,
      since: time,
      ttl: w.ttl,
      expires: w.ttl === null ? null : time + w.ttl,
    });
  }

  /** Grant waiters in FIFO order while the head fits; the head blocks everyone behind it. */
  function grantWaiters(entry: DEntry, time: number): void {
    if (entry.blockedUntil !== null && time >= entry.blockedUntil) entry.blockedUntil = null;
    if (entry.blockedUntil === null) {
      for (
        let head = entry.waiters[0];
        head !== undefined && canGrant(entry, head.mode);
        head = entry.waiters[0]
      ) {
        grantHead(entry, time);
      }
    }
    if (entry.holders.length === 0 && entry.waiters.length === 0) entry.kind = null;
  }

  /** Elect the head candidate when nobody leads and the election is not blocked. */
  function electNext(e: DElection, time: number): void {
    if (e.blockedUntil !== null && time >= e.blockedUntil) e.blockedUntil = null;
    if (e.leader === null && e.blockedUntil === null) {
      const next = e.candidates.shift();
      if (next !== undefined) {
        e.term = nextToken(e.term, time, scheme);
        e.leader = next;
      }
    }
  }

  function block(current: number | null, time: number): number | null {
    if (delay <= 0) return current;
    return Math.max(current ?? 0, time + delay);
  }

  function acquire(draft: DState, cmd: AcquireCommand, ctx: ApplyContext): AcquireResult {
    const owner = ownerOf(ctx);
    const { ttl, limit } = acquireTerms(draft.departed, owner, cmd);
    const entry = (draft.locks[cmd.name] ??= newEntry());
    const held = entry.holders.find((h) => h.id === cmd.id);
    if (held !== undefined) return { status: 'granted', token: held.token, expires: held.expires };
    const queued = entry.waiters.findIndex((w) => w.id === cmd.id);
    if (queued >= 0) return { status: 'queued', position: queued };
    grantWaiters(entry, ctx.time);
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
    const waiter = { id: cmd.id, owner, mode: cmd.mode, ttl, since: ctx.time };
    if (
      entry.waiters.length === 0 &&
      !isBlocked(entry.blockedUntil, ctx.time) &&
      canGrant(entry, cmd.mode)
    ) {
      entry.waiters.push(waiter);
      grantHead(entry, ctx.time);
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

  function release(draft: DState, id: string, name: string, ctx: ApplyContext): ReleaseResult {
    checkOwnName(name);
    const entry = draft.locks[name];
    if (entry === undefined) return { released: 'none' };
    const me = ctx.sender.incarnation;
    const h = entry.holders.findIndex((x) => x.id === id);
    if (h >= 0) {
      if (entry.holders[h]!.owner.incarnation !== me)
        throw new NotOwnerError(`lock '${name}' (${id}) belongs to another incarnation`);
      entry.holders.splice(h, 1);
      grantWaiters(entry, ctx.time);
      return { released: 'held' };
    }
    const w = entry.waiters.findIndex((x) => x.id === id);
    if (w >= 0) {
      if (entry.waiters[w]!.owner.incarnation !== me)
        throw new NotOwnerError(`request '${name}' (${id}) belongs to another incarnation`);
      entry.waiters.splice(w, 1);
      grantWaiters(entry, ctx.time);
      return { released: 'waiting' };
    }
    return { released: 'none' };
  }

  function renew(
    draft: DState,
    id: string,
    name: string,
    ttlIn: number,
    ctx: ApplyContext,
  ): RenewResult {
    const ttl = checkTtl(ttlIn)!;
    checkOwnName(name);
    const h = draft.locks[name]?.holders.find((x) => x.id === id);
    if (h === undefined) throw new NotHolderError(`lock '${name}' (${id}) is not held (any more)`);
    if (h.owner.incarnation !== ctx.sender.incarnation)
      throw new NotOwnerError(`lock '${name}' (${id}) belongs to another incarnation`);
    h.ttl = ttl;
    h.expires = ctx.time + ttl;
    return { expires: h.expires };
  }

  function campaign(draft: DState, cmd: CampaignCommand, ctx: ApplyContext): CampaignResult {
    const owner = ownerOf(ctx);
    if (draft.departed.includes(owner.incarnation)) {
      throw new OwnerGoneError(`incarnation ${owner.incarnation} already left the group`);
    }
    checkName(cmd.name);
    checkOwnName(cmd.name);
    const e = (draft.elections[cmd.name] ??= newElection());
    if (e.leader?.id === cmd.id) return { status: 'leader', term: e.term };
    const pos = e.candidates.findIndex((c) => c.id === cmd.id);
    if (pos >= 0) return { status: 'candidate', position: pos };
    electNext(e, ctx.time);
    e.candidates.push({ id: cmd.id, owner, value: cmd.value, since: ctx.time });
    electNext(e, ctx.time);
    if (e.leader?.id === cmd.id) return { status: 'leader', term: e.term };
    return { status: 'candidate', position: e.candidates.length - 1 };
  }

  function resign(draft: DState, id: string, name: string, ctx: ApplyContext): ResignResult {
    checkOwnName(name);
    const e = draft.elections[name];
    if (e === undefined) return { resigned: 'none' };
    const me = ctx.sender.incarnation;
    if (e.leader?.id === id) {
      if (e.leader.owner.incarnation !== me)
        throw new NotOwnerError(`leadership of '${name}' belongs to another incarnation`);
      e.leader = null;
      electNext(e, ctx.time);
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
    draft: DState,
    id: string,
    name: string,
    value: unknown,
    ctx: ApplyContext,
  ): ProclaimResult {
    checkOwnName(name);
    const e = draft.elections[name];
    if (e?.leader?.id !== id) throw new NotHolderError(`not the leader of '${name}' (any more)`);
    if (e.leader.owner.incarnation !== ctx.sender.incarnation)
      throw new NotOwnerError(`leadership of '${name}' belongs to another incarnation`);
    e.leader.value = value as Draft<Json>;
    return { term: e.term };
  }

  return {
    name: options.name ?? LOCKS_MACHINE_NAME,
    initial: initialLocksState,
    isCommand: isLocksCommand,

    // what the machine applies commands with; `apply` below is the same under immer
    reduce: (state, cmd, ctx, patches) => reduceLocks(state, cmd, ctx, scheme, patches),

    apply(draft, cmd, ctx): LocksResult {
      switch (cmd.type) {
        case 'acquire':
          return acquire(draft, cmd, ctx);
        case 'release':
        case 'withdraw':
          return release(draft, cmd.id, cmd.name, ctx);
        case 'renew':
          return renew(draft, cmd.id, cmd.name, cmd.ttl, ctx);
        case 'campaign':
          return campaign(draft, cmd, ctx);
        case 'resign':
          return resign(draft, cmd.id, cmd.name, ctx);
        case 'proclaim':
          return proclaim(draft, cmd.id, cmd.name, cmd.value, ctx);
      }
    },

    onMembership(draft, change: MembershipContext): void {
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
      const locks = baseOf(draft.locks);
      for (const name of Object.keys(locks)) {
        const base = locks[name]!;
        if (base.holders.length === 0 && base.waiters.length === 0) continue;
        if (!base.holders.some(mine) && !base.waiters.some(mine) && !grantsChange(base, time))
          continue;
        const entry = draft.locks[name]!;
        const before = entry.holders.length;
        entry.holders = entry.holders.filter((h) => !gone.has(h.owner.incarnation));
        entry.waiters = entry.waiters.filter((w) => !gone.has(w.owner.incarnation));
        if (entry.holders.length < before) entry.blockedUntil = block(entry.blockedUntil, time);
        grantWaiters(entry, time);
      }
      const elections = baseOf(draft.elections);
      for (const name of Object.keys(elections)) {
        const base = elections[name]!;
        const leaderGone = base.leader !== null && mine(base.leader);
        if (!leaderGone && !base.candidates.some(mine) && !electsChange(base, time)) continue;
        const e = draft.elections[name]!;
        e.candidates = e.candidates.filter((c) => !gone.has(c.owner.incarnation));
        if (e.leader !== null && gone.has(e.leader.owner.incarnation)) {
          e.leader = null;
          e.blockedUntil = block(e.blockedUntil, time);
        }
        electNext(e, time);
      }
    },

    onTick(draft, ctx: TickContext): void {
      const time = ctx.time;
      // as in onMembership: drafts only of what the tick changes
      const expired = (h: LockHolder): boolean => h.expires !== null && h.expires <= time;
      const locks = baseOf(draft.locks);
      for (const name of Object.keys(locks)) {
        const base = locks[name]!;
        if (base.holders.length === 0 && base.blockedUntil === null) continue;
        if (!base.holders.some(expired) && !grantsChange(base, time)) continue;
        const entry = draft.locks[name]!;
        const before = entry.holders.length;
        entry.holders = entry.holders.filter((h) => !expired(h));
        if (entry.holders.length < before) entry.blockedUntil = block(entry.blockedUntil, time);
        grantWaiters(entry, time);
      }
      const elections = baseOf(draft.elections);
      for (const name of Object.keys(elections))
        if (electsChange(elections[name]!, time)) electNext(draft.elections[name]!, time);
    },

    // remembered per record, derived by reduceLocks from the record before (deadlines.ts)
    nextDeadline,
  };
}
