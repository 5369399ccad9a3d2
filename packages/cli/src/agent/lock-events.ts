/**
 * What changed in the lock machine's state, as log events: locks granted, released or lost,
 * leaders elected or gone. A pure diff of two states.
 * @module
 */
import { lockNames, lockOf, type LocksState, type Owner } from '@cpgkit/locks';

/** One change of the lock state worth a log line. */
export type LockEvent =
  | {
      readonly event: 'lock-granted';
      readonly name: string;
      readonly token: string;
      readonly owner: Owner;
    }
  | {
      /** `lost`: its owner left (died, cut off) or its lease ran out; `released`: it let go. */
      readonly event: 'lock-released' | 'lock-lost';
      readonly name: string;
      readonly token: string;
      readonly owner: Owner;
    }
  | {
      readonly event: 'leader-elected';
      readonly name: string;
      readonly term: string;
      readonly owner: Owner;
    }
  | {
      readonly event: 'leader-ended';
      readonly name: string;
      readonly term: string;
      readonly owner: Owner;
    };

/**
 * The events between `prev` and `next`.
 * @param involuntary - the change was a membership change or a tick (holders that vanish
 *   were removed, not released)
 */
export function lockEvents(prev: LocksState, next: LocksState, involuntary: boolean): LockEvent[] {
  const out: LockEvent[] = [];
  if (prev.locks !== next.locks) {
    // a name whose lock went free is deleted from the state (locks' state format 2)
    for (const name of namesOf(lockNames(prev.locks), lockNames(next.locks))) {
      const before = lockOf(prev.locks, name);
      const e = lockOf(next.locks, name);
      if (before === e) continue;
      const had = new Set(before?.holders.map((h) => h.id) ?? []);
      const has = new Set(e?.holders.map((h) => h.id) ?? []);
      for (const h of before?.holders ?? [])
        if (!has.has(h.id))
          out.push({
            event: involuntary ? 'lock-lost' : 'lock-released',
            name,
            token: h.token,
            owner: h.owner,
          });
      for (const h of e?.holders ?? [])
        if (!had.has(h.id))
          out.push({ event: 'lock-granted', name, token: h.token, owner: h.owner });
    }
  }
  if (prev.elections !== next.elections) {
    for (const name of namesOf(Object.keys(prev.elections), Object.keys(next.elections))) {
      const before = prev.elections[name];
      const e = next.elections[name];
      if (before === e) continue;
      const was = before?.leader ?? null;
      const is = e?.leader ?? null;
      if (was !== null && was.id !== is?.id)
        out.push({ event: 'leader-ended', name, term: before!.term, owner: was.owner });
      if (is !== null && is.id !== was?.id)
        out.push({ event: 'leader-elected', name, term: e!.term, owner: is.owner });
    }
  }
  return out;
}

/** The names of `next`, then those of `prev` that `next` no longer has. */
function namesOf(prev: readonly string[], next: readonly string[]): string[] {
  const has = new Set(next);
  const names = [...next];
  for (const name of prev) if (!has.has(name)) names.push(name);
  return names;
}
