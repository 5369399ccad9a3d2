/**
 * Errors: one class per condition, each with `name` set, a string `code` (`'CPGKIT_...'`, Node's
 * convention), `outcome` (what a failed call means: `'not-applied'`, safe to retry, or
 * `'unknown'`), `retryable`, the corosync `cs_error_t` as `csError` where there is one, and a
 * message that says what to do. Chained through `cause`.
 * @module
 */

/** corosync's `cs_error_t` values (include/corosync/corotypes.h). */
export const CsError = {
  OK: 1,
  LIBRARY: 2,
  VERSION: 3,
  INIT: 4,
  TIMEOUT: 5,
  TRY_AGAIN: 6,
  INVALID_PARAM: 7,
  NO_MEMORY: 8,
  BAD_HANDLE: 9,
  BUSY: 10,
  ACCESS: 11,
  NOT_EXIST: 12,
  NAME_TOO_LONG: 13,
  EXIST: 14,
  NO_SPACE: 15,
  INTERRUPT: 16,
  NAME_NOT_FOUND: 17,
  NO_RESOURCES: 18,
  NOT_SUPPORTED: 19,
  BAD_OPERATION: 20,
  FAILED_OPERATION: 21,
  MESSAGE_ERROR: 22,
  QUEUE_FULL: 23,
  QUEUE_NOT_AVAILABLE: 24,
  BAD_FLAGS: 25,
  TOO_BIG: 26,
  NO_SECTIONS: 27,
  CONTEXT_NOT_FOUND: 28,
  TOO_MANY_GROUPS: 30,
  SECURITY: 100,
} as const;

/**
 * What a failed call means for what it asked: `'not-applied'`, it certainly took no effect (safe
 * to retry: nothing was sent, or it was refused or dropped before anyone applied it), or
 * `'unknown'`, it may have taken effect (read the state before retrying a call that is not
 * idempotent).
 */
export type Outcome = 'not-applied' | 'unknown';

/** Options every cpgkit error takes. */
export interface CpgErrorOptions {
  readonly cause?: unknown;
  /** The `cs_error_t` a corosync call returned, when the error comes from one. */
  readonly csError?: number;
  /**
   * What the failed call means, when the thrower knows better than the class's default (e.g. a
   * `TimeoutError` of a wait that sent nothing is `'not-applied'`).
   */
  readonly outcome?: Outcome;
}

/**
 * The base class of every error cpgkit throws.
 *
 * - `code`: a stable string per class (`'CPGKIT_NO_QUORUM'`, ...), Node's convention
 *   (`err.code === 'CPGKIT_TIMEOUT'`). A subclass has a code of its own: use `instanceof` to
 *   catch a family (`LibraryNotFoundError` is a `CorosyncNotRunningError`).
 * - `outcome`: `'not-applied'` or `'unknown'` (see `Outcome` and `isNotApplied`). It is the
 *   class's default unless the thrower said otherwise; the default of a class that can end a
 *   call at any point (a timeout, a close, a lost connection) is `'unknown'`.
 * - `retryable`: whether the same call may succeed later. It does not say whether the failed
 *   call took effect: that is `outcome`.
 * - `csError`: corosync's `cs_error_t` when the error comes from a corosync call.
 */
export class CpgError extends Error {
  override name = 'CpgError';
  /**
   * A stable string naming the condition: `'CPGKIT_'` and the class name without `Error` in
   * upper snake case (`NoQuorumError`: `'CPGKIT_NO_QUORUM'`).
   */
  readonly code: string = 'CPGKIT_ERROR';
  /** corosync's `cs_error_t` when the error comes from a corosync call. */
  readonly csError: number | undefined;
  /** Whether the same call may succeed if tried again later. */
  readonly retryable: boolean = false;
  readonly #outcome: Outcome | undefined;
  constructor(message: string, options: CpgErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.csError = options.csError;
    this.#outcome = options.outcome;
  }

  /** What the failed call means: the thrower's word, else the class's `defaultOutcome`. */
  get outcome(): Outcome {
    return this.#outcome ?? this.defaultOutcome;
  }

  /** The outcome of a call that failed with this class, unless the thrower said otherwise. */
  protected get defaultOutcome(): Outcome {
    return 'unknown';
  }

  /** `name`, `code`, `outcome`, `message` (and `csError`): what a log line or a JSON error needs. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      outcome: this.outcome,
      message: this.message,
      ...(this.csError === undefined ? {} : { csError: this.csError }),
    };
  }
}

/**
 * Whether `err` says that the failed call certainly took no effect, so that it is safe to
 * retry: a cpgkit error whose `outcome` is `'not-applied'`. Anything else (an outcome that is
 * unknown, a foreign error, the `DOMException` of an aborted signal) is `false`: the call may
 * have taken effect.
 *
 * @example
 * ```ts
 * try {
 *   await map.set('k', v);
 * } catch (err) {
 *   if (isNotApplied(err)) retryLater(); // e.g. NoQuorumError
 *   else await readBeforeRetrying('k'); // e.g. TimeoutError: it may have been applied
 * }
 * ```
 */
export function isNotApplied(err: unknown): boolean {
  return err instanceof CpgError && err.outcome === 'not-applied';
}

/**
 * Whether `err` is a timeout: cpgkit's `TimeoutError` (a `timeout` option ran out), or the
 * `DOMException` named `'TimeoutError'` that `AbortSignal.timeout(ms)` aborts with. Waiting
 * calls reject with their signal's reason as it is, so a `signal: AbortSignal.timeout(200)`
 * gives the `DOMException`, which is not `instanceof TimeoutError`: test with this instead.
 */
export function isTimeout(err: unknown): boolean {
  if (err instanceof TimeoutError) return true;
  return (
    typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'TimeoutError'
  );
}

/** corosync is not running, or its IPC is not reachable from here (`CS_ERR_LIBRARY`). */
export class CorosyncNotRunningError extends CpgError {
  override name = 'CorosyncNotRunningError';
  override readonly code: string = 'CPGKIT_COROSYNC_NOT_RUNNING';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  constructor(message = defaultNotRunning, options: CpgErrorOptions = {}) {
    super(message, { csError: CsError.LIBRARY, ...options });
  }
}
const defaultNotRunning =
  'cannot reach corosync (CS_ERR_LIBRARY): is the daemon running? Start it with ' +
  '`systemctl start corosync`, or `corosync -f -c /etc/corosync/corosync.conf` where there is ' +
  'no systemd. Inside a network namespace, run the client in the same namespace as the daemon.';

/**
 * corosync's client libraries (libcpg.so.4, libquorum.so.5) or koffi cannot be loaded: corosync
 * is not installed here. A `CorosyncNotRunningError`, so code that handles "no corosync" needs one
 * `instanceof`.
 */
export class LibraryNotFoundError extends CorosyncNotRunningError {
  override name = 'LibraryNotFoundError';
  override readonly code: string = 'CPGKIT_LIBRARY_NOT_FOUND';
  constructor(message: string, options: CpgErrorOptions = {}) {
    super(message, { csError: undefined, ...options });
  }
}

/** The daemon refused us (`CS_ERR_ACCESS`). */
export class AccessDeniedError extends CpgError {
  override name = 'AccessDeniedError';
  override readonly code: string = 'CPGKIT_ACCESS_DENIED';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  constructor(
    message = 'corosync refused access (CS_ERR_ACCESS): run as root, or add a `uidgid { uid: ... gid: ... }` directive for this user to corosync.conf',
    options: CpgErrorOptions = {},
  ) {
    super(message, { csError: CsError.ACCESS, ...options });
  }
}

/** This process already has a member in that group (`CS_ERR_EXIST`). */
export class AlreadyJoinedError extends CpgError {
  override name = 'AlreadyJoinedError';
  override readonly code: string = 'CPGKIT_ALREADY_JOINED';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  constructor(message: string, options: CpgErrorOptions = {}) {
    super(message, { csError: CsError.EXIST, ...options });
  }
}

/** The daemon is busy (`CS_ERR_TRY_AGAIN`), e.g. during a membership change. */
export class TryAgainError extends CpgError {
  override name = 'TryAgainError';
  override readonly code: string = 'CPGKIT_TRY_AGAIN';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  override readonly retryable = true;
  constructor(
    message = 'corosync asked us to try again (CS_ERR_TRY_AGAIN)',
    options: CpgErrorOptions = {},
  ) {
    super(message, { csError: CsError.TRY_AGAIN, ...options });
  }
}

/** A multi-part send was interrupted by a membership change (`CS_ERR_INTERRUPT`). */
export class InterruptedError extends CpgError {
  override name = 'InterruptedError';
  override readonly code: string = 'CPGKIT_INTERRUPTED';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  override readonly retryable = true;
  constructor(message: string, options: CpgErrorOptions = {}) {
    super(message, { csError: CsError.INTERRUPT, ...options });
  }
}

/** The group connection was closed (by us, or because the daemon went away). */
export class GroupClosedError extends CpgError {
  override name = 'GroupClosedError';
  override readonly code: string = 'CPGKIT_GROUP_CLOSED';
}

/** The operation needs a joined group, and we are not (or no longer) in one. */
export class NotJoinedError extends CpgError {
  override name = 'NotJoinedError';
  override readonly code: string = 'CPGKIT_NOT_JOINED';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/** The daemon died or dropped our connection while we were using it. */
export class ConnectionLostError extends CpgError {
  override name = 'ConnectionLostError';
  override readonly code: string = 'CPGKIT_CONNECTION_LOST';
  constructor(
    message = 'lost the connection to corosync: the daemon stopped or dropped us; restart corosync and reconnect',
    options: CpgErrorOptions = {},
  ) {
    super(message, { csError: CsError.LIBRARY, ...options });
  }
}

/** A group name over 128 bytes (UTF-8), or empty. Checked before any C call. */
export class InvalidGroupNameError extends CpgError {
  override name = 'InvalidGroupNameError';
  override readonly code: string = 'CPGKIT_INVALID_GROUP_NAME';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
}

/** Options of a `MessageTooLargeError`. */
export interface MessageTooLargeErrorOptions extends CpgErrorOptions {
  /** Replaces the default message. */
  readonly message?: string;
}

/**
 * A message larger than the transport's documented limit (`send` checks `maxMessageSize`), or
 * one corosync refused as too big (`CS_ERR_TOO_BIG`, `csError` set). Nothing was sent.
 */
export class MessageTooLargeError extends CpgError {
  override name = 'MessageTooLargeError';
  override readonly code: string = 'CPGKIT_MESSAGE_TOO_LARGE';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  /**
   * @param size - the message's bytes (`undefined` when not known)
   * @param limit - the limit it exceeds (`undefined` when not known)
   */
  constructor(
    readonly size: number | undefined,
    readonly limit: number | undefined,
    options: MessageTooLargeErrorOptions = {},
  ) {
    super(
      options.message ??
        `message of ${size ?? 'unknown'} bytes exceeds the limit of ${limit ?? 'unknown'} bytes; split it or store it elsewhere`,
      options,
    );
  }
}

/** The send queue is full: the daemon is not draining fast enough. Retry later, or slow down. */
export class QueueFullError extends CpgError {
  override name = 'QueueFullError';
  override readonly code: string = 'CPGKIT_QUEUE_FULL';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
  override readonly retryable = true;
}

/** A wait ran past its `timeout`. */
export class TimeoutError extends CpgError {
  override name = 'TimeoutError';
  override readonly code: string = 'CPGKIT_TIMEOUT';
  override readonly retryable = true;
}

/** Any other `cs_error_t` from a corosync call. */
export class CorosyncError extends CpgError {
  override name = 'CorosyncError';
  override readonly code: string = 'CPGKIT_COROSYNC';
}

/**
 * The error for a `cs_error_t` returned by `call` (e.g. `cpg_join`).
 * @param code - the `cs_error_t`
 * @param call - the C function, for the message
 * @param sizes - for a send: the message's size and the engine's limit (in a
 *   `MessageTooLargeError` for `CS_ERR_TOO_BIG`)
 */
export function errorFromCode(
  code: number,
  call: string,
  sizes?: { readonly size: number; readonly limit: number },
): CpgError {
  switch (code) {
    case CsError.LIBRARY:
      return new CorosyncNotRunningError(`${call}: ${defaultNotRunning}`);
    case CsError.ACCESS:
    case CsError.SECURITY:
      return new AccessDeniedError(undefined, { csError: code });
    case CsError.EXIST:
      return new AlreadyJoinedError(
        `${call}: this process already has a member in that group (CS_ERR_EXIST)`,
      );
    case CsError.TRY_AGAIN:
      return new TryAgainError(`${call}: corosync asked us to try again (CS_ERR_TRY_AGAIN)`);
    case CsError.INTERRUPT:
      return new InterruptedError(`${call}: interrupted by a membership change (CS_ERR_INTERRUPT)`);
    case CsError.TOO_BIG:
      return new MessageTooLargeError(sizes?.size, sizes?.limit, {
        csError: code,
        message: sizes
          ? `${call}: message of ${sizes.size} bytes is too big for corosync (CS_ERR_TOO_BIG; atomic limit ${sizes.limit} bytes); split it or store it elsewhere`
          : `${call}: message too big for corosync (CS_ERR_TOO_BIG); split it or store it elsewhere`,
      });
    case CsError.BAD_HANDLE:
      return new GroupClosedError(
        `${call}: the connection handle is no longer valid (CS_ERR_BAD_HANDLE)`,
        { csError: code },
      );
    case CsError.NOT_EXIST:
      return new NotJoinedError(`${call}: not a member of that group (CS_ERR_NOT_EXIST)`, {
        csError: code,
      });
    default:
      return new CorosyncError(`${call} failed with cs_error_t ${code}`, { csError: code });
  }
}
