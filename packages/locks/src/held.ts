/**
 * What a `Locks` client holds (its handles, by request id and by the lock or election they are
 * about) and how it follows the replicated state: a handle the state no longer lists is lost,
 * the others see their lease's end or their leader's value.
 * @module
 */
import type { StateChange } from '@cpgkit/statemachine';
import { ByName } from './by-name.js';
import type { LocksCommand, LocksResult } from './commands.js';
import type { LossReason } from './errors.js';
import type { Leadership } from './leadership.js';
import type { Lock } from './lock.js';
import type { HandleControl } from './lock-client.js';
import type { Json, LocksState } from './state.js';
import { lockOf } from './lock-table.js';

/** A handle this client holds, with the control to lose it or update it. */
export type Held =
  | ({ readonly kind: 'lock' } & HandleControl<Lock, number | null>)
  | ({ readonly kind: 'leadership' } & HandleControl<Leadership, Json>);

/** What a held handle, a waiting request or a command is about: a lock or an election. */
export function aboutKey(election: boolean, name: string): string {
  return `${election ? 'leadership' : 'lock'}:${name}`;
}

/** An empty set of held handles, by id and by what they are about. */
export function heldHandles(): ByName<Held> {
  return new ByName<Held>((h) => aboutKey(h.kind === 'leadership', h.handle.name));
}

/**
 * Follow one change of the replicated state: lose (and forget) every handle in `held` the new
 * state no longer lists, update the others. A command changes one lock or election (a failed
 * one nothing): only its handles are looked up; anything else (a tick, members leaving, a
 * snapshot) may change them all.
 */
export function followHeld(
  held: ByName<Held>,
  change: StateChange<LocksState, LocksCommand, LocksResult>,
): void {
  const why: LossReason = change.kind === 'tick' ? 'lease-expired' : 'released';
  const state = change.state;
  let targets: Iterable<[string, Held]> = held.entries();
  if (change.kind === 'command') {
    const cmd = change.command;
    const election = cmd.type === 'campaign' || cmd.type === 'resign' || cmd.type === 'proclaim';
    targets = change.ok ? held.group(aboutKey(election, cmd.name)) : [];
  }
  for (const [id, h] of targets) {
    if (h.kind === 'lock') {
      const holder = lockOf(state.locks, h.handle.name)?.holders.find((x) => x.id === id);
      if (holder === undefined) {
        held.delete(id);
        h.lose(
          why,
          why === 'lease-expired' ? 'its lease ran out' : 'the group no longer lists it as held',
        );
      } else h.update(holder.expires);
    } else {
      const e = state.elections[h.handle.name];
      if (e?.leader?.id !== id) {
        held.delete(id);
        h.lose('released', 'the group no longer lists it as leader');
      } else h.update(e.leader.value);
    }
  }
}
