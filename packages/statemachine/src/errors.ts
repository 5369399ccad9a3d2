/**
 * Errors of @cpgkit/statemachine: one class per condition, each with `name`, a string `code`
 * and `outcome` (see `CpgError` in @cpgkit/core), chained through `cause`.
 * @module
 */
import { CpgError, type CpgErrorOptions, type Outcome } from '@cpgkit/core';

/**
 * The component has no quorum: writes are refused before they are sent (reads still work and
 * are stale). Not applied: safe to retry once quorum returns.
 */
export class NoQuorumError extends CpgError {
  override name = 'NoQuorumError';
  override readonly code: string = 'CPGKIT_NO_QUORUM';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  override readonly retryable = true;
  constructor(
    message = 'no quorum: this member is in a minority partition (or the cluster lost quorum); writes are refused until quorum returns',
    options: CpgErrorOptions = {},
  ) {
    super(message, options);
  }
}

/**
 * `apply` threw for this command. The error is part of the replicated result, identical on every
 * member, and the state did not change (`outcome` `'not-applied'`; retrying gives the same error
 * unless the state changed meanwhile).
 */
export class CommandFailedError extends CpgError {
  override name = 'CommandFailedError';
  override readonly code: string = 'CPGKIT_COMMAND_FAILED';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  constructor(
    message: string,
    /** The `name` of the error `apply` threw. */
    readonly errorName: string,
    options: CpgErrorOptions = {},
  ) {
    super(message, options);
  }
}

/**
 * The state machine was closed (by us, or its group closed under it). A command in flight when it
 * closed may have been applied elsewhere (`outcome` `'unknown'`); a call refused because the
 * machine was closed before it sent anything says `'not-applied'`.
 */
export class MachineClosedError extends CpgError {
  override name = 'MachineClosedError';
  override readonly code: string = 'CPGKIT_MACHINE_CLOSED';
}

/**
 * A local read of a replica that holds no synced state yet: before its first sync round with
 * the group ended (right after `open()`, or while no replica that holds the state is
 * reachable), a synchronous read would answer from an empty or outdated state. Wait for
 * `ready()` (or `synced()`), or read with options (`get(key, { consistency: 'stale' })` waits
 * for the first sync). Nothing was read or changed: `outcome` `'not-applied'`, safe to retry.
 */
export class NotReadyError extends CpgError {
  override name = 'NotReadyError';
  override readonly code: string = 'CPGKIT_NOT_READY';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  override readonly retryable = true;
}

/** A value or command is larger than the documented limit. */
export class ValueTooLargeError extends CpgError {
  override name = 'ValueTooLargeError';
  override readonly code: string = 'CPGKIT_VALUE_TOO_LARGE';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/**
 * A write would take a `ReplicatedMap` past one of its store limits (`maxKeys` keys or
 * `maxStoreBytes` bytes, see `MapLimits`): refused identically by every replica, nothing
 * written (`outcome` `'not-applied'`). Retrying gives the same error until keys are deleted
 * (or every replica is restarted with higher limits).
 */
export class StoreFullError extends CpgError {
  override name = 'StoreFullError';
  override readonly code: string = 'CPGKIT_STORE_FULL';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/**
 * A write of the local state to the data directory failed (disk full, an I/O error, permission
 * denied; the file system's error is the `cause`). Not thrown by a call: a machine emits it as
 * a `persist-failed` event. The replica keeps running from memory and its next write (the next
 * change, or a retry within a second) writes a whole snapshot; until one succeeds, what it
 * applied since its last good write is not on its disk (`outcome` `'unknown'`), and with
 * `durability: 'fsync'` its disk does not count toward acknowledging writes.
 */
export class PersistFailedError extends CpgError {
  override name = 'PersistFailedError';
  override readonly code: string = 'CPGKIT_PERSIST_FAILED';

  /** The write of the state at `index` to `dir` failed with `cause`. */
  static writing(index: bigint, dir: string, cause: unknown): PersistFailedError {
    const why = cause instanceof Error ? cause.message : String(cause);
    return new PersistFailedError(
      `persist: writing the state at index ${index} to ${dir} failed: ${why}`,
      { cause },
    );
  }
}

/** A key the store cannot hold (`__proto__`: it would change an object's prototype, not store a key). */
export class InvalidKeyError extends CpgError {
  override name = 'InvalidKeyError';
  override readonly code: string = 'CPGKIT_INVALID_KEY';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/** A `compareAndSet` or `transaction` compare did not hold: nothing was written. */
export class CompareFailedError extends CpgError {
  override name = 'CompareFailedError';
  override readonly code: string = 'CPGKIT_COMPARE_FAILED';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
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
  override readonly code: string = 'CPGKIT_HISTORY_COMPACTED';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
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
  override readonly code: string = 'CPGKIT_NO_REPLICA';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  override readonly retryable = true;
}

/**
 * This member was left out of its component's sync (it was stopped or slow when the round was
 * closed without it) while the command was in flight: the others may or may not have applied
 * it. Read the state after the next sync before retrying a command that is not idempotent.
 */
export class OutcomeUnknownError extends CpgError {
  override name = 'OutcomeUnknownError';
  override readonly code: string = 'CPGKIT_OUTCOME_UNKNOWN';
}
