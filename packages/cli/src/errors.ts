/**
 * The CLI's own errors. Each says what it means for a write: not applied (safe to retry) or
 * outcome unknown.
 * @module
 */
import { CpgError, isNotApplied, type Outcome } from '@cpgkit/core';
import { NoReplicaError } from '@cpgkit/statemachine';

/** A wrong argument or flag: printed without a stack, exit code 2. Nothing was sent. */
export class UsageError extends CpgError {
  override name = 'UsageError';
  override readonly code: string = 'CPGKIT_USAGE';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

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

/** `kv get` of a key that is not set (exit 1: the condition asked about). */
export class KeyNotSetError extends CpgError {
  override name = 'KeyNotSetError';
  override readonly code: string = 'CPGKIT_KEY_NOT_SET';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/** `lock -n`: somebody else holds the lock, or waits for it (exit 1, or `-E`'s code). */
export class LockBusyError extends CpgError {
  override name = 'LockBusyError';
  override readonly code: string = 'CPGKIT_LOCK_BUSY';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/** `snapshot restore` into a store that holds keys, without `--force` (exit 1). */
export class StoreNotEmptyError extends CpgError {
  override name = 'StoreNotEmptyError';
  override readonly code: string = 'CPGKIT_STORE_NOT_EMPTY';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/**
 * An error that ends the command with `exitCode` instead of the one its class maps to (flock's
 * `-E`: the code of a busy lock or a timeout). `cause` is the error.
 */
export class ExitCodeError extends CpgError {
  override name = 'ExitCodeError';
  override readonly code: string = 'CPGKIT_EXIT_CODE';
  constructor(
    readonly exitCode: number,
    readonly error: CpgError,
  ) {
    super(error.message, { cause: error, outcome: error.outcome });
  }
}
