/**
 * A held lock: its fencing token, a signal that aborts when it can no longer be trusted, and
 * `release()`.
 * @module
 */
import type { TimerHandle } from '@cpgkit/core';
import { LockLostError, type LossReason } from './errors.js';
import type { HandleControl, LockClient } from './lock-client.js';
import type { LockKind, LockMode } from './state.js';

/** How a lock was granted (not exported from the package). */
export interface LockGrant {
  readonly id: string;
  readonly name: string;
  readonly kind: LockKind;
  readonly mode: LockMode;
  readonly token: string;
  readonly expires: number | null;
}

/** A `Lock` as JSON (`JSON.stringify(lock)`): the token as a decimal string. */
export interface LockJson {
  readonly id: string;
  readonly name: string;
  readonly kind: LockKind;
  readonly mode: LockMode;
  /** The fencing token, in decimal (`BigInt(json.token)` gives it back). */
  readonly token: string;
  readonly expires: number | null;
  readonly lost: boolean;
  readonly released: boolean;
}

/** Set by `Lock`'s static block: the only way to make a `Lock` (see `grantLock`). */
let makeLock: (client: LockClient, grant: LockGrant) => HandleControl<Lock, number | null>;

/**
 * A granted lock (a mutex, a semaphore permit, or a read/write share).
 *
 * Use `token` to fence every write to the protected resource (see `FencedResource`), and stop
 * when `signal` aborts: it aborts with a `LockLostError` the moment this member can no longer
 * trust the lock (quorum lost, evicted, closed, lease over), before anyone else can be granted
 * it in a quorate component (except through a `failoverDelay` that is too short).
 *
 * `token` is a `bigint`, which `JSON.stringify` cannot write: `toJSON()` gives the token as a
 * decimal string, so `JSON.stringify(lock)` works (`BigInt(json.token)` reads it back).
 *
 * @example
 * ```ts
 * await using lock = await locks.acquire('invoices', { timeout: 5000 });
 * await store.write(data, { fencingToken: lock.token, signal: lock.signal });
 * ```
 */
export class Lock implements AsyncDisposable {
  /** The request id (uuid v7): this grant's identity in the replicated state. */
  readonly id: string;
  readonly name: string;
  readonly kind: LockKind;
  readonly mode: LockMode;
  /** The fencing token: strictly increasing for `name`, never reused. */
  readonly token: bigint;
  readonly #client: LockClient;
  readonly #ctl = new AbortController();
  #expires: number | null;
  #timer: TimerHandle | undefined;
  #released = false;

  static {
    makeLock = (client, grant) => {
      const lock = new Lock(client, grant);
      return {
        handle: lock,
        lose: (reason, message) => lock.#lose(reason, message),
        update: (expires) => lock.#updateExpires(expires),
      };
    };
  }

  /** Made by `Locks` when the group grants a request (`grantLock`). */
  private constructor(client: LockClient, grant: LockGrant) {
    this.#client = client;
    this.id = grant.id;
    this.name = grant.name;
    this.kind = grant.kind;
    this.mode = grant.mode;
    this.token = BigInt(grant.token);
    this.#expires = grant.expires;
    this.#arm();
  }

  /** Aborts (with a `LockLostError`) when the lock can no longer be trusted. Not on `release()`. */
  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  /** Replicated time (wall-clock ms) at which the lease ends, or `null` without a lease. */
  get expires(): number | null {
    return this.#expires;
  }

  /** Whether the lock was lost (the signal aborted). */
  get lost(): boolean {
    return this.#ctl.signal.aborted;
  }

  /** Whether `release()` was called. */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Give the lock back, through the group. Idempotent; never throws for a lock that is already
   * lost or a group without quorum (the release is then retried when quorum returns).
   */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#timer?.cancel();
    await this.#client.release(this);
  }

  /** Extend the lease to `ttl` ms from now (replicated time). Rejects with `NotHolderError` if lost. */
  async renew(ttl: number): Promise<void> {
    this.#expires = await this.#client.renew(this, ttl);
    this.#arm();
  }

  /** The replicated state moved the lease end (a renew applied). */
  #updateExpires(expires: number | null): void {
    if (expires === this.#expires) return;
    this.#expires = expires;
    this.#arm();
  }

  /** Abort the signal. */
  #lose(reason: LossReason, message: string): void {
    this.#timer?.cancel();
    if (!this.#ctl.signal.aborted) {
      this.#ctl.abort(
        new LockLostError(`lock '${this.name}' (token ${this.token}) lost: ${message}`, reason),
      );
    }
  }

  /** The lease as our own clock sees it: abort when it passes, even before the agreed tick. */
  #arm(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#expires === null || this.#released || this.lost) return;
    const ms = this.#expires - this.#client.clock.wallNow();
    this.#timer = this.#client.clock.setTimeout(
      () => this.#lose('lease-expired', 'its lease ran out'),
      Math.max(0, ms),
    );
  }

  /** For `JSON.stringify`: what the lock is, with `token` as a decimal string. */
  toJSON(): LockJson {
    return {
      id: this.id,
      name: this.name,
      kind: this.kind,
      mode: this.mode,
      token: this.token.toString(),
      expires: this.#expires,
      lost: this.lost,
      released: this.#released,
    };
  }

  /** Same as `release()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/**
 * A new `Lock` for `client`, and the control that `Locks` keeps for it (`update` takes the
 * lease end). Not exported from the package: only `Locks` makes locks.
 * @internal
 */
export function grantLock(
  client: LockClient,
  grant: LockGrant,
): HandleControl<Lock, number | null> {
  return makeLock(client, grant);
}
