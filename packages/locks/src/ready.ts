/**
 * The rule of every write, as `Locks` applies it before a request: wait while the machine is
 * syncing, refuse at once with `NoQuorumError` while it is (or once it becomes) a minority.
 * @module
 */
import { deferred } from '@cpgkit/core';
import { NoQuorumError } from '@cpgkit/statemachine';
import type { LocksStateMachine } from './types.js';

/**
 * Wait until `machine` is `ready`; refuse at once with `NoQuorumError` when it is (or
 * becomes) a minority. `syncing` is waited for; `signal` (if any) ends the wait with its reason.
 */
export async function readyOrRefuse(
  machine: LocksStateMachine,
  what: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (machine.status === 'minority') throw minorityError(what, false);
  if (machine.status === 'ready') return;
  const minority = deferred<never>();
  const off = machine.on('status', (e) => {
    if (e.status === 'minority') minority.reject(minorityError(what, false));
  });
  try {
    await Promise.race([machine.ready({ signal }), minority.promise]);
  } finally {
    off();
  }
}

/** The `NoQuorumError` of a request refused (`waited` false) or given up in a minority. */
export function minorityError(what: string, waited: boolean): NoQuorumError {
  return new NoQuorumError(
    `${what}: no quorum: this member is in a minority partition (or the cluster lost quorum); ` +
      (waited
        ? 'the request was given up and is withdrawn when quorum returns'
        : 'nothing was sent') +
      ' (not applied: retry once quorum returns)',
  );
}
