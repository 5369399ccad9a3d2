/**
 * A won election: the term, a signal that aborts when leadership ends, and `resign()`.
 * @module
 */
import { LeadershipLostError, type LossReason } from './errors.js';
import type { HandleControl, LockClient } from './lock-client.js';
import type { Json } from './state.js';

/** How an election was won (not exported from the package). */
export interface LeadershipGrant {
  readonly id: string;
  readonly name: string;
  readonly term: string;
  readonly value: Json;
}

/** Set by `Leadership`'s static block: the only way to make one (see `grantLeadership`). */
let makeLeadership: (client: LockClient, grant: LeadershipGrant) => HandleControl<Leadership, Json>;

/** A `Leadership` as JSON (`JSON.stringify(leadership)`): the term as a decimal string. */
export interface LeadershipJson {
  readonly id: string;
  readonly name: string;
  /** The term, in decimal (`BigInt(json.term)` gives it back). */
  readonly term: string;
  readonly value: Json;
  readonly lost: boolean;
  readonly resigned: boolean;
}

/**
 * Leadership of an election name, held by this member incarnation.
 *
 * Stop acting as leader when `signal` aborts (with a `LeadershipLostError`): quorum lost,
 * evicted, or closed. `term` strictly increases for the name: use it as a fencing token. It is
 * a `bigint`: `toJSON()` gives it as a decimal string, so `JSON.stringify(leadership)` works.
 *
 * @example
 * ```ts
 * await using leadership = await locks.campaign('scheduler', { value: { host } });
 * await runScheduler({ signal: leadership.signal, epoch: leadership.term });
 * ```
 */
export class Leadership implements AsyncDisposable {
  /** The campaign id (uuid v7). */
  readonly id: string;
  readonly name: string;
  /** The term: strictly increasing for `name`, never reused. */
  readonly term: bigint;
  readonly #client: LockClient;
  readonly #ctl = new AbortController();
  #value: Json;
  #resigned = false;

  static {
    makeLeadership = (client, grant) => {
      const leadership = new Leadership(client, grant);
      return {
        handle: leadership,
        lose: (reason, message) => leadership.#lose(reason, message),
        update: (value) => (leadership.#value = value),
      };
    };
  }

  /** Made by `Locks` when the group elects us (`grantLeadership`). */
  private constructor(client: LockClient, init: LeadershipGrant) {
    this.#client = client;
    this.id = init.id;
    this.name = init.name;
    this.term = BigInt(init.term);
    this.#value = init.value;
  }

  /** Aborts (with a `LeadershipLostError`) when leadership ends without `resign()`. */
  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  /** The value this leader announces (as last applied). */
  get value(): Json {
    return this.#value;
  }

  /** Whether leadership was lost (the signal aborted). */
  get lost(): boolean {
    return this.#ctl.signal.aborted;
  }

  /** Whether `resign()` was called. */
  get resigned(): boolean {
    return this.#resigned;
  }

  /** Give up leadership through the group; the next candidate is elected in the same step. Idempotent. */
  async resign(): Promise<void> {
    if (this.#resigned) return;
    this.#resigned = true;
    await this.#client.resign(this);
  }

  /** Announce a new value in the same term. Rejects with `NotHolderError` if no longer leader. */
  async proclaim(value: Json): Promise<void> {
    await this.#client.proclaim(this, value);
    this.#value = value;
  }

  /** Abort the signal. */
  #lose(reason: LossReason, message: string): void {
    if (!this.#ctl.signal.aborted) {
      this.#ctl.abort(
        new LeadershipLostError(
          `leadership of '${this.name}' (term ${this.term}) lost: ${message}`,
          reason,
        ),
      );
    }
  }

  /** For `JSON.stringify`: the leadership, with `term` as a decimal string. */
  toJSON(): LeadershipJson {
    return {
      id: this.id,
      name: this.name,
      term: this.term.toString(),
      value: this.#value,
      lost: this.lost,
      resigned: this.#resigned,
    };
  }

  /** Same as `resign()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.resign();
  }
}

/**
 * A new `Leadership` for `client`, and the control that `Locks` keeps for it (`update` takes
 * the leader's value). Not exported from the package: only `Locks` makes leaderships.
 * @internal
 */
export function grantLeadership(
  client: LockClient,
  grant: LeadershipGrant,
): HandleControl<Leadership, Json> {
  return makeLeadership(client, grant);
}
