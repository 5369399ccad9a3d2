/**
 * The CLI's own errors. Each says what it means for a write: not applied (safe to retry) or
 * outcome unknown.
 * @module
 */
import { CpgError, isNotApplied, type Outcome } from '@cpgkit/core';
import { NoReplicaError } from '@cpgkit/statemachine';

/** What a failed write means: `not-applied` (safe to retry) or `unknown` (it may have been). */
export type WriteOutcome = Outcome;

/**
 * No `cpgkit serve` (no replica) of the group answered within the timeout: the client applied
 * nothing. A `NoReplicaError`, so library code that handles one handles both.
 */
export class NoAgentError extends NoReplicaError {
  override name = 'NoAgentError';
  override readonly code: string = 'CPGKIT_NO_AGENT';
}

/** The message of `NoAgentError`: what was seen, and what to run. */
export function noAgentMessage(
  group: string,
  groupName: string,
  others: number,
  timeoutS: number,
): string {
  const seen =
    others === 0
      ? `no other member in CPG group ${groupName} within ${timeoutS} s`
      : `${others} other member(s) in CPG group ${groupName}, none a replica that sent the state within ${timeoutS} s`;
  return `no replica of group ${group} is reachable (${seen}): run \`cpgkit serve --group ${group} --data DIR\` on the nodes (nothing was applied)`;
}

/** A write failed and was certainly not applied: safe to retry. `cause` says why. */
export class WriteNotAppliedError extends CpgError {
  override name = 'WriteNotAppliedError';
  override readonly code: string = 'CPGKIT_WRITE_NOT_APPLIED';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/** A write failed after it may have been applied: read before retrying. `cause` says why. */
export class WriteOutcomeUnknownError extends CpgError {
  override name = 'WriteOutcomeUnknownError';
  override readonly code: string = 'CPGKIT_WRITE_OUTCOME_UNKNOWN';
}

/**
 * What `err`, thrown by a write that was handed to the group, means for its outcome: the error's
 * own `outcome` (see `isNotApplied` in @cpgkit/core). Not applied: refused before sending (no
 * quorum, no replica, corosync unreachable, too large, an invalid key), dropped unapplied by a
 * sync round (`InterruptedError`), never sent (queue full, try again), or applied as a failure
 * on every replica (a compare that failed, `apply` threw). Anything else (a timeout,
 * `OutcomeUnknownError`, the connection or the machine closed under it, an interrupt by signal,
 * an error that is not cpgkit's) may have been applied.
 */
export function writeOutcome(err: unknown): WriteOutcome {
  return isNotApplied(err) ? 'not-applied' : 'unknown';
}
