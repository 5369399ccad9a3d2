/**
 * Errors of @cpgkit/locks: one class per condition, chained through `cause`.
 * @module
 */
import { CpgError, type CpgErrorOptions } from '@cpgkit/core';

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
 * The `signal` of a `Lock` or `Leadership` aborts with this error as its reason.
 */
export class LockLostError extends CpgError {
  override name = 'LockLostError';
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
}

/**
 * A name is in use as another kind of lock (e.g. a semaphore with another number of permits,
 * or a mutex while it is a read-write lock). Thrown by the replicated `apply`, identically on
 * every member.
 */
export class LockKindMismatchError extends CpgError {
  override name = 'LockKindMismatchError';
}

/** A command names a lock or candidacy that belongs to another incarnation. */
export class NotOwnerError extends CpgError {
  override name = 'NotOwnerError';
}

/** `renew` or `proclaim` for a lock or leadership we do not hold (any more). */
export class NotHolderError extends CpgError {
  override name = 'NotHolderError';
}

/**
 * A command came from an incarnation that has already left the group (it was applied after
 * the membership step that released everything it held); refused so that nothing is ever
 * granted to a member that is gone.
 */
export class OwnerGoneError extends CpgError {
  override name = 'OwnerGoneError';
}

/** A malformed command or argument (bad name, ttl, permits). */
export class InvalidLockRequestError extends CpgError {
  override name = 'InvalidLockRequestError';
}

/**
 * `FencedResource` refused a write: its token is lower than one the resource already saw, so
 * a newer holder exists and this one must stop.
 */
export class StaleTokenError extends CpgError {
  override name = 'StaleTokenError';
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
