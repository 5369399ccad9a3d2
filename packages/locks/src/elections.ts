/**
 * What a `Locks` client reports about elections: `leader(name)` and `observe(name)`, and the
 * rule that makes them say `stale`: a change of an election that a strict majority of `Q` does
 * not hold yet may still be rolled back.
 * @module
 */
import { subscriptionIterator } from '@cpgkit/core';
import type { Json, LocksState, Owner } from './state.js';
import type { LocksStateMachine } from './types.js';

/** Who leads an election, as `observe` and `leader` report it. */
export interface LeaderInfo {
  readonly name: string;
  /** The leader's incarnation, or `null` when nobody leads. */
  readonly leader: Owner | null;
  /** The current (or last) term; 0 before the first leader. */
  readonly term: bigint;
  /** The leader's value, or `null`. */
  readonly value: Json;
  /** Read from a replica that is not `ready` (syncing or in a minority). */
  readonly stale: boolean;
  /** For `JSON.stringify`: the same fields, `term` as a decimal string (not enumerable). */
  toJSON(): LeaderInfoJson;
}

/** `LeaderInfo` as JSON: `term` is a decimal string (a `bigint` has no JSON form). */
export interface LeaderInfoJson {
  readonly name: string;
  readonly leader: Owner | null;
  readonly term: string;
  readonly value: Json;
  readonly stale: boolean;
}

/** `#changedAt` is not pruned below this size. */
const PRUNE_MIN = 64;

/** The elections of one state machine as one client sees them (not exported from the package). */
export class ElectionView {
  readonly #machine: LocksStateMachine;
  readonly #closed: () => boolean;
  /** The elections as last seen, and the index at which each one last changed. */
  #elections: LocksState['elections'] | undefined;
  readonly #changedAt = new Map<string, bigint>();
  /** `#changedAt`'s size at which it is next pruned (see `#prune`). */
  #pruneAt = PRUNE_MIN;

  /** `closed`: whether the client is closed (observers end then). */
  constructor(machine: LocksStateMachine, closed: () => boolean) {
    this.#machine = machine;
    this.#closed = closed;
  }

  /**
   * Remember at which index each election last changed (immer keeps an unchanged entry's
   * identity), so that `leader()` says `stale` until a majority of `Q` holds the change.
   * `replaced`: a snapshot replaced the state (every election counts as changed).
   */
  note(state: LocksState, replaced: boolean): void {
    const els = state.elections;
    const prev = this.#elections;
    if (els === prev && !replaced) return;
    this.#elections = els;
    const at = this.#machine.index;
    for (const [name, e] of Object.entries(els))
      if (replaced || prev?.[name] !== e) this.#changedAt.set(name, at);
    if (this.#changedAt.size >= this.#pruneAt) this.#prune();
  }

  /**
   * Forget the elections whose last change a majority of `Q` holds: `leader()` reads a
   * forgotten name as changed at index 0, which says `stale` exactly when the remembered index
   * would (`committedIndex < at` is false for both). The commit index goes down only when a
   * snapshot replaces the state, and a committed change survives that (every election it
   * holds is in the new state, which `note(…, true)` marks changed again). Run once the map
   * has doubled since the last run, so a change costs O(1) amortised.
   */
  #prune(): void {
    const committed = this.#machine.committedIndex;
    for (const [name, at] of this.#changedAt) if (at <= committed) this.#changedAt.delete(name);
    this.#pruneAt = Math.max(PRUNE_MIN, 2 * this.#changedAt.size);
  }

  /** How many elections `#changedAt` remembers (for tests). */
  get remembered(): number {
    return this.#changedAt.size;
  }

  /** Who leads `name` now, as this replica sees it. */
  leader(name: string): LeaderInfo {
    const m = this.#machine;
    const e = m.state.elections[name];
    const info = {
      name,
      leader: e?.leader?.owner ?? null,
      term: BigInt(e?.term ?? '0'),
      value: e?.leader?.value ?? null,
      // a change of this election that a majority of Q does not hold yet may be rolled back
      stale: m.stale || m.committedIndex < (this.#changedAt.get(name) ?? 0n),
    };
    const toJSON = (): LeaderInfoJson => ({ ...info, term: info.term.toString() });
    return Object.defineProperty(info, 'toJSON', { value: toJSON }) as LeaderInfo;
  }

  /**
   * The leader of `name`: now, then at every change (leader, term, value, staleness), until
   * the signal aborts or the client closes.
   */
  async *observe(
    name: string,
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<LeaderInfo, void, undefined> {
    let lastKey = '';
    /** The leader info if it differs from the last one handed out. */
    const changed = (): LeaderInfo | undefined => {
      const info = this.leader(name);
      const key = `${info.term}|${info.leader?.incarnation ?? ''}|${JSON.stringify(info.value)}|${info.stale}`;
      if (key === lastKey) return undefined;
      lastKey = key;
      return info;
    };
    const m = this.#machine;
    const closed = (): boolean => this.#closed() || m.status === 'closed';
    const it = subscriptionIterator<LeaderInfo>(
      (push, end) => {
        const update = (): void => {
          const info = changed();
          if (info !== undefined) push(info);
          if (closed()) end(); // also when closing changed nothing a reader would see
        };
        const offs = [m.subscribe(update), m.on('status', update), m.on('commit', update)];
        return () => {
          for (const off of offs) off();
        };
      },
      { initial: [changed()!], signal: options.signal },
    );
    if (closed()) it.end();
    yield* it;
  }
}
