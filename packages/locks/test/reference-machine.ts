/**
 * The lock machine as it was before its fast paths, to compare the machine with: commands
 * through `apply` under immer (no `reduce`), and `onMembership` / `onTick` that go through
 * every lock and election as drafts, and `nextDeadline` that walks every lock. Same rules: any difference in a state is a bug of the
 * fast paths (reduce.property.test.ts). State format 2: tokens and terms from the machine-wide
 * `issued`, free entries deleted, a first-format state migrated before its first change.
 */
import type { Draft } from 'immer';
import {
  SortedRecord,
  type MachineDefinition,
  type MembershipContext,
  type TickContext,
} from '@cpgkit/statemachine';
import { locksMachine, canGrant, type LocksMachineOptions } from '../src/machine.js';
import type { LocksCommand, LocksResult } from '../src/commands.js';
import { DEPARTED_MAX, type ElectionEntry, type LockEntry, type LocksState } from '../src/state.js';
import { nextToken } from '../src/tokens.js';
import { largestIssued } from '../src/state-format.js';

type DEntry = Draft<LockEntry>;

/** Every `[name, entry]` in name order, as ticks and membership changes go (format 3). */
function inNameOrder<E>(record: Record<string, E>): [string, E][] {
  return Object.keys(record)
    .sort()
    .map((k) => [k, record[k]!]);
}

/**
 * The reference's locks: always a plain object (immer's drafts of plain objects; it never
 * runs `reduce`, which makes `SortedRecord`s). Throws on anything else.
 */
function plain<T>(locks: T): Record<string, DEntry> {
  if (locks instanceof SortedRecord) throw new Error('the reference machine got a SortedRecord');
  return locks as unknown as Record<string, DEntry>;
}
type DElection = Draft<ElectionEntry>;

export function referenceMachine(
  options: LocksMachineOptions = {},
): MachineDefinition<LocksState, LocksCommand, LocksResult> {
  const def = { ...locksMachine(options) };
  delete def.reduce;
  const scheme = options.tokens ?? 'clock';
  const delay = options.failoverDelay ?? 0;

  let draft!: Draft<LocksState>;
  const issueNext = (time: number): string =>
    (draft.issued = nextToken(draft.issued, time, scheme));

  /** Migrate a first-format draft, in place. */
  function begin(d: Draft<LocksState>): void {
    draft = d;
    if ((d as { issued?: string }).issued !== undefined) return;
    const issued = largestIssued(d);
    for (const [name, e] of Object.entries(plain(d.locks))) dropLock(name, e);
    d.issued = issued;
  }

  function dropLock(name: string, e: DEntry): void {
    if (e.holders.length === 0 && e.waiters.length === 0 && e.blockedUntil === null)
      delete plain(draft.locks)[name];
  }

  function grantWaiters(entry: DEntry, time: number): void {
    if (entry.blockedUntil !== null && time >= entry.blockedUntil) entry.blockedUntil = null;
    if (entry.blockedUntil === null) {
      for (let w = entry.waiters[0]; w !== undefined && canGrant(entry, w.mode);) {
        entry.waiters.shift();
        const token = issueNext(time);
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
        w = entry.waiters[0];
      }
    }
    if (entry.holders.length === 0 && entry.waiters.length === 0) entry.kind = null;
  }

  function electNext(e: DElection, time: number): void {
    if (e.blockedUntil !== null && time >= e.blockedUntil) e.blockedUntil = null;
    if (e.leader === null && e.blockedUntil === null) {
      const next = e.candidates.shift();
      if (next !== undefined) {
        e.term = issueNext(time);
        e.leader = next;
      }
    }
  }

  function block(current: number | null, time: number): number | null {
    if (delay <= 0) return current;
    return Math.max(current ?? 0, time + delay);
  }

  return {
    ...def,
    nextDeadline(state): number | undefined {
      let next = Infinity;
      for (const entry of Object.values(plain(state.locks))) {
        for (const h of entry.holders) if (h.expires !== null && h.expires < next) next = h.expires;
        if (entry.blockedUntil !== null && entry.blockedUntil < next) next = entry.blockedUntil;
      }
      for (const e of Object.values(state.elections)) {
        if (e.blockedUntil !== null && e.candidates.length > 0 && e.blockedUntil < next)
          next = e.blockedUntil;
      }
      return next === Infinity ? undefined : next;
    },
    onMembership(d, change: MembershipContext): void {
      begin(d);
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
      for (const [name, entry] of inNameOrder(plain(draft.locks))) {
        const before = entry.holders.length;
        if (before === 0 && entry.waiters.length === 0) continue;
        entry.holders = entry.holders.filter((h) => !gone.has(h.owner.incarnation));
        entry.waiters = entry.waiters.filter((w) => !gone.has(w.owner.incarnation));
        if (entry.holders.length < before) entry.blockedUntil = block(entry.blockedUntil, time);
        grantWaiters(entry, time);
        dropLock(name, entry);
      }
      for (const [, e] of inNameOrder(draft.elections)) {
        e.candidates = e.candidates.filter((c) => !gone.has(c.owner.incarnation));
        if (e.leader !== null && gone.has(e.leader.owner.incarnation)) {
          e.leader = null;
          e.blockedUntil = block(e.blockedUntil, time);
        }
        electNext(e, time);
      }
    },
    onTick(d, ctx: TickContext): void {
      begin(d);
      const time = ctx.time;
      for (const [name, entry] of inNameOrder(plain(draft.locks))) {
        const before = entry.holders.length;
        if (before === 0 && entry.blockedUntil === null) continue;
        entry.holders = entry.holders.filter((h) => h.expires === null || h.expires > time);
        if (entry.holders.length < before) entry.blockedUntil = block(entry.blockedUntil, time);
        grantWaiters(entry, time);
        dropLock(name, entry);
      }
      for (const [, e] of inNameOrder(draft.elections)) electNext(e, time);
    },
  };
}
