import { CpgError, type CpgErrorOptions } from '@cpgkit/core';

/** The component has no quorum: writes are refused (reads still work and are stale). */
export class NoQuorumError extends CpgError {
  override name = 'NoQuorumError';
  override readonly retryable = true;
  constructor(
    message = 'no quorum: this member is in a minority partition (or the cluster lost quorum); writes are refused until quorum returns',
    options: CpgErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** `apply` threw for this command. The error is part of the replicated result, identical on every member. */
export class CommandFailedError extends CpgError {
  override name = 'CommandFailedError';
  constructor(
    message: string,
    /** The `name` of the error `apply` threw. */
    readonly errorName: string,
    options: CpgErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** The state machine was closed (by us, or its group closed under it). */
export class MachineClosedError extends CpgError {
  override name = 'MachineClosedError';
}

/** A value or command is larger than the documented limit. */
export class ValueTooLargeError extends CpgError {
  override name = 'ValueTooLargeError';
}

/** A key the store cannot hold (`__proto__`: it would change an object's prototype, not store a key). */
export class InvalidKeyError extends CpgError {
  override name = 'InvalidKeyError';
}

/** A `compareAndSet` or `transaction` compare did not hold: nothing was written. */
export class CompareFailedError extends CpgError {
  override name = 'CompareFailedError';
  constructor(
    message: string,
    /** The key whose compare failed. */
    readonly key: string,
    /** The store revision when the transaction was applied. */
    readonly revision: number,
    options: CpgErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** `watch({ fromRevision })` asked for changes older than the local history keeps. */
export class HistoryCompactedError extends CpgError {
  override name = 'HistoryCompactedError';
  constructor(
    message: string,
    /** The oldest revision the history can still replay from. */
    readonly oldest: number,
    options: CpgErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** No member of the group holds the state, and this member may not start one (a one-shot client). */
export class NoReplicaError extends CpgError {
  override name = 'NoReplicaError';
  override readonly retryable = true;
}

/**
 * This member was left out of its component's sync (it was stopped or slow when the round was
 * closed without it) while the command was in flight: the others may or may not have applied
 * it. Read the state after the next sync before retrying a command that is not idempotent.
 */
export class OutcomeUnknownError extends CpgError {
  override name = 'OutcomeUnknownError';
}
