/**
 * Locks are not reentrant: the rule that refuses a second request of one `Locks` client for a
 * name it already holds or waits for.
 * @module
 */
import { AlreadyHeldError } from './errors.js';
import type { Waiter } from './hand-out.js';
import { Leadership } from './leadership.js';
import { Lock } from './lock.js';
import type { LockSpec } from './types.js';

/**
 * Throw `AlreadyHeldError` when a request for `name` (`spec` undefined: a campaign) would wait
 * for a handle in `held` or a request in `waits`. A second request for a name this client holds
 * or waits for would wait for itself. JavaScript has no thread identity that could tell a
 * reentry from another task of the same process, so Curator-style reentry (a hold count per
 * thread) would let two tasks hold the mutex at once; refuse instead. Semaphores count permits,
 * not holders: one client may take several.
 */
export function refuseReentry(
  name: string,
  spec: LockSpec | undefined,
  held: Iterable<Lock | Leadership>,
  waits: Iterable<Waiter>,
): void {
  if (spec?.kind === 'semaphore') return;
  const election = spec === undefined;
  const isHeld = [...held].some((h) =>
    election
      ? h instanceof Leadership && h.name === name
      : h instanceof Lock && h.name === name && h.kind !== 'semaphore',
  );
  const waiting = [...waits].some((w) =>
    election
      ? w.spec === undefined && w.name === name
      : w.spec !== undefined && w.name === name && w.spec.kind !== 'semaphore',
  );
  if (!isHeld && !waiting) return;
  const state = isHeld ? 'held' : 'waiting';
  const what = election ? `leadership of '${name}'` : `lock '${name}'`;
  const verb = election ? (isHeld ? 'leads' : 'campaigns for') : isHeld ? 'holds' : 'waits for';
  throw new AlreadyHeldError(
    `${what}: this Locks already ${verb} it; locks are not reentrant (a second request would wait for itself): pass the held handle down, or use one Locks per independent user`,
    name,
    state,
  );
}
