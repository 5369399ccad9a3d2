/**
 * The CLI's own errors. Each says what it means for a write: not applied (safe to retry) or
 * outcome unknown.
 * @module
 */
import {
  AccessDeniedError,
  CorosyncNotRunningError,
  InterruptedError,
  QueueFullError,
  TryAgainError,
} from '@cpgkit/core';
import {
  CommandFailedError,
  CompareFailedError,
  InvalidKeyError,
  NoQuorumError,
  NoReplicaError,
  ValueTooLargeError,
} from '@cpgkit/statemachine';

/** What a failed write means: `not-applied` (safe to retry) or `unknown` (it may have been). */
export type WriteOutcome = 'not-applied' | 'unknown';

/**
 * No `cpgkit serve` (no replica) of the group answered within the timeout: the client applied
 * nothing. A `NoReplicaError`, so library code that handles one handles both.
 */
export class NoAgentError extends NoReplicaError {
  override name = 'NoAgentError';
  /** Nothing was applied. */
  readonly outcome: WriteOutcome = 'not-applied';
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
export class WriteNotAppliedError extends Error {
  override name = 'WriteNotAppliedError';
  readonly outcome: WriteOutcome = 'not-applied';
}

/** A write failed after it may have been applied: read before retrying. `cause` says why. */
export class WriteOutcomeUnknownError extends Error {
  override name = 'WriteOutcomeUnknownError';
  readonly outcome: WriteOutcome = 'unknown';
}

/**
 * What `err`, thrown by a write that was handed to the group, means for its outcome. Not
 * applied: refused before sending (no quorum, no replica, corosync unreachable, too large, an
 * invalid key), dropped unapplied by a sync round (`InterruptedError`), never sent (queue full,
 * try again), or applied as a failure on every replica (a compare that failed, `apply` threw).
 * Anything else (a timeout, `OutcomeUnknownError`, the connection or the machine closed under
 * it, an interrupt by signal) may have been applied.
 */
export function writeOutcome(err: unknown): WriteOutcome {
  const notApplied = [
    NoQuorumError,
    NoReplicaError,
    CorosyncNotRunningError,
    AccessDeniedError,
    InterruptedError,
    QueueFullError,
    TryAgainError,
    ValueTooLargeError,
    InvalidKeyError,
    CompareFailedError,
    CommandFailedError,
  ];
  return notApplied.some((c) => err instanceof c) ? 'not-applied' : 'unknown';
}
