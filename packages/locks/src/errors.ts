/**
 * Errors of @cpgkit/locks: one class per condition, each with `name`, a string `code` and
 * `outcome` (see `CpgError` in @cpgkit/core), chained through `cause`.
 * @module
 */
import { CpgError, type CpgErrorOptions, type Outcome } from '@cpgkit/core';

/** Why a held lock or a leadership can no longer be trusted. */
export type LossReason =
  /** Our component lost quorum (seen locally, before the agreed stream says anything). */
  | 'quorum-lost'
  /** The group no longer sees us (evicted), or we left it. */
  | 'evicted'
  /** The state machine or the group was closed under us. */
  | 'closed'
  /** The lease (ttl) ran out: by the agreed tick, or by our own clock first. */
  | 'lease-expired'
  /** The replicated state no longer lists us as the holder (e.g. a sync after a merge). */
  | 'released';

/**
 * A held lock (or a leadership) can no longer be trusted: stop using the protected resource.
 * The `signal` of a `Lock` or `Leadership` aborts with this error as its reason, so a call
 * given that signal rejects with it: its `outcome` is `'unknown'` (the call may have been sent
 * before the abort).
 */
export class LockLostError extends CpgError {
  override name = 'LockLostError';
  override readonly code: string = 'CPGKIT_LOCK_LOST';
  constructor(
    message: string,
    /** Why it was lost. */
    readonly reason: LossReason,
    options: CpgErrorOptions = {},
  ) {
    super(message, options);
  }
}

/**
 * A leadership ended without `resign()`: quorum lost, eviction, close. Subclass of
 * `LockLostError` so one `instanceof` check covers both.
 */
export class LeadershipLostError extends LockLostError {
  override name = 'LeadershipLostError';
  override readonly code: string = 'CPGKIT_LEADERSHIP_LOST';
}

/**
 * A name is in use as another kind of lock (e.g. a semaphore with another number of permits,
 * or a mutex while it is a read-write lock). Thrown by the replicated `apply`, identically on
 * every member.
 */
export class LockKindMismatchError extends CpgError {
  override name = 'LockKindMismatchError';
  override readonly code: string = 'CPGKIT_LOCK_KIND_MISMATCH';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/** A command names a lock or candidacy that belongs to another incarnation. */
export class NotOwnerError extends CpgError {
  override name = 'NotOwnerError';
  override readonly code: string = 'CPGKIT_NOT_OWNER';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/** `renew` or `proclaim` for a lock or leadership we do not hold (any more). */
export class NotHolderError extends CpgError {
  override name = 'NotHolderError';
  override readonly code: string = 'CPGKIT_NOT_HOLDER';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/**
 * A command came from an incarnation that has already left the group (it was applied after
 * the membership step that released everything it held); refused so that nothing is ever
 * granted to a member that is gone.
 */
export class OwnerGoneError extends CpgError {
  override name = 'OwnerGoneError';
  override readonly code: string = 'CPGKIT_OWNER_GONE';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/** A malformed command or argument (bad name, ttl, permits). */
export class InvalidLockRequestError extends CpgError {
  override name = 'InvalidLockRequestError';
  override readonly code: string = 'CPGKIT_INVALID_LOCK_REQUEST';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/**
 * `FencedResource` refused a write: its token is lower than one the resource already saw, so
 * a newer holder exists and this one must stop.
 */
export class StaleTokenError extends CpgError {
  override name = 'StaleTokenError';
  override readonly code: string = 'CPGKIT_STALE_TOKEN';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  constructor(
    /** The token that was refused. */
    readonly token: bigint,
    /** The highest token the resource had seen. */
    readonly highest: bigint,
    options: CpgErrorOptions = {},
  ) {
    super(
      `stale fencing token ${token}: the resource already accepted token ${highest}, so a newer holder exists; stop writing`,
      options,
    );
  }
}

/**
 * `acquire` (or `campaign`, a semaphore permit, a read or write share) of a name that this same
 * `Locks` already holds or waits for. Locks are not reentrant: a second request would wait for
 * the first one, held by the caller itself, until its timeout (forever without one). Refused at
 * once, before anything is sent (`outcome` `'not-applied'`). Use one `Locks` per independent
 * user, or pass the held `Lock` down instead of acquiring again.
 */
export class AlreadyHeldError extends CpgError {
  override name = 'AlreadyHeldError';
  override readonly code: string = 'CPGKIT_ALREADY_HELD';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  constructor(
    message: string,
    /** The name already held or waited for. */
    readonly lockName: string,
    /** Whether this `Locks` holds it (`'held'`) or waits for it (`'waiting'`). */
    readonly state: 'held' | 'waiting',
    options: CpgErrorOptions = {},
  ) {
    super(message, options);
  }
}
