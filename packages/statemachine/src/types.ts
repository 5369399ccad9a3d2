/**
 * The public contract of @cpgkit/statemachine. `ReplicatedStateMachine` implements
 * `StateMachine`; @cpgkit/locks and `ReplicatedMap` are written against these types.
 * @module
 */
import type { Draft, Patch } from 'immer';
import type { Clock, MemberId, WaitOptions } from '@cpgkit/core';

/** A member incarnation: one connection's lifetime. Ownership (locks, leadership) belongs to it. */
export interface Incarnation extends MemberId {
  /** A uuid chosen when the state machine starts; carried in every message it sends. */
  readonly incarnation: string;
}

/** Where a command stands in the replicated log. Identical on every member. */
export interface ApplyContext {
  /** Who sent the command. */
  readonly sender: Incarnation;
  /** The command's id (uuid v7, chosen by the sender). */
  readonly commandId: string;
  /**
   * Replicated time in wall-clock ms: the sender's clock when it sent the command, made
   * non-decreasing along the log. Use this (never `Date.now()`) for deadlines in state.
   */
  readonly time: number;
  /** The command's position in the log: strictly increasing, never reused. */
  readonly index: bigint;
  /** The sync epoch the command was applied in. */
  readonly epoch: number;
}

/** A membership change as the replicated state sees it, applied in the agreed step. */
export interface MembershipContext {
  /** Members (with known incarnations) after the change, sorted by (nodeid, pid). */
  readonly members: readonly Incarnation[];
  /** Incarnations that left for any reason (leave, procdown, nodedown, eviction). */
  readonly left: readonly Incarnation[];
  readonly time: number;
  readonly index: bigint;
  readonly epoch: number;
}

/** A replicated timer tick: replicated time moved to `time`. */
export interface TickContext {
  readonly time: number;
  readonly index: bigint;
  readonly epoch: number;
}

/**
 * What to replicate: a state and pure functions over it. Every member calls them with the
 * same arguments in the same order, so they must be deterministic: no clock, no randomness,
 * no I/O (use `ctx.time`, and ids carried in the command).
 *
 * @example
 * ```ts
 * const counter: MachineDefinition<{ n: number }, { add: number }, number> = {
 *   name: 'counter',
 *   initial: { n: 0 },
 *   apply(draft, cmd) { draft.n += cmd.add; return draft.n; },
 * };
 * ```
 */
export interface MachineDefinition<S, C, R = unknown> {
  /** Names the machine on the wire and on disk; members with another name are ignored. */
  readonly name: string;
  /**
   * The version of the state's format, for a machine whose state changed shape (default: none,
   * the first format). Frames carry it with the name (`name@format`): replicas of another format
   * of the machine count each other's messages as foreign and ignore them (each is a silent
   * member of the other's sync rounds, closed out after `syncTimeout`), so two formats never mix
   * in one replicated state. They still join the same group and read the same data directory
   * (both named by `name`): a definition that declares a new format must accept a state of the
   * older formats wherever a state reaches it (loaded from disk, initial) and migrate it
   * deterministically, the same way on every replica.
   */
  readonly format?: number;
  /** The first state (JSON-serialisable: snapshots carry it). */
  readonly initial: S | (() => S);
  /**
   * Apply a command to the draft (immer) and return the result `dispatch` resolves with.
   * A throw is part of the replicated result: the draft is discarded on every member and
   * the sender's `dispatch` rejects with `CommandFailedError`.
   */
  apply(draft: Draft<S>, command: C, ctx: ApplyContext): R;
  /**
   * Optional, for machines that own a large state (the config store): apply a command without
   * immer. Returns the next state, a new object that shares what did not change and never
   * modifies `state`, with the result; throws like `apply` (the state stays as it was). When
   * `patches` is given (the replica persists), push immer-format patches from `state` to the
   * returned state onto it, so that the journal logs the change rather than the whole state.
   * When present, it is used instead of `apply`; the two must agree.
   */
  reduce?(
    state: S,
    command: C,
    ctx: ApplyContext,
    patches: Patch[] | undefined,
  ): { readonly state: S; readonly result: R };
  /** Members left (or joined): release what they held, in the same agreed step everywhere. */
  onMembership?(draft: Draft<S>, change: MembershipContext): void;
  /** Replicated time advanced (a tick): expire leases, fire delayed transitions. */
  onTick?(draft: Draft<S>, ctx: TickContext): void;
  /**
   * The replicated time at which this state needs a tick (`undefined`: none). One member
   * proposes a tick through the group when its clock passes it.
   */
  nextDeadline?(state: S): number | undefined;
  /** Reject malformed commands before they reach `apply` (they count as failed). */
  isCommand?(command: unknown): command is C;
  /**
   * Optional, for machines whose state holds large records of many distinct keys that they
   * read as a plain object or a `SortedRecord` alike (the config store's leaves): whether the
   * object at `path` (the keys from the state down to it) is built as a `SortedRecord` when a
   * new replica reads the state from a snapshot. Parsing objects whose keys no object had
   * before is costly (V8 gives each its own hidden class, one step per member): a 100,000-key
   * store's leaves were most of a new replica's parsing and garbage-collection time. The
   * record has the object's members, its JSON and its digest (a text that gives a key twice
   * is refused: `JSON.stringify` never writes one). Called once per line of the snapshot; where it says false (the default), objects
   * are plain, as `JSON.parse` makes them.
   */
  snapshotRecord?(path: readonly (string | number)[]): boolean;
}

/** Where a state machine stands. */
export type MachineStatus =
  /** Joining, or exchanging state after a membership change; reads may be stale. */
  | 'syncing'
  /** Synced, in a quorate component: reads are current, writes are applied. */
  | 'ready'
  /** Synced but the component has no quorum: reads are stale, writes are refused. */
  | 'minority'
  /** Closed (by us, or the group closed under us). */
  | 'closed';

/** One change of the local replica, in apply order. */
export type StateChange<S, C, R> =
  | {
      readonly kind: 'command';
      readonly state: S;
      readonly command: C;
      readonly ok: boolean;
      readonly result?: R;
      readonly error?: string;
      readonly ctx: ApplyContext;
    }
  | { readonly kind: 'membership'; readonly state: S; readonly change: MembershipContext }
  | { readonly kind: 'tick'; readonly state: S; readonly ctx: TickContext }
  | { readonly kind: 'sync'; readonly state: S; readonly epoch: number; readonly index: bigint };

/** Status and diagnostics, as a discriminated union (not an EventEmitter). */
export type MachineEvent =
  | { readonly type: 'status'; readonly status: MachineStatus }
  | { readonly type: 'quorum'; readonly quorate: boolean }
  | {
      readonly type: 'mismatch';
      readonly epoch: number;
      readonly index: bigint;
      readonly local: string;
      readonly remote: string;
      readonly from: Incarnation;
    }
  | { readonly type: 'foreign'; readonly count: number }
  /**
   * `committedIndex` moved up: every entry of the local state up to `index` is held by a
   * strict majority of `Q` (a quorate round finished with it, or acks said so).
   */
  | { readonly type: 'commit'; readonly index: bigint }
  /**
   * A write to the data directory failed (see `PersistFailedError`); `index` is the entry the
   * write was to hold. Emitted once per failed write.
   */
  | { readonly type: 'persist-failed'; readonly index: bigint; readonly error: Error }
  | { readonly type: 'closed'; readonly error?: Error };

/** Options for `dispatch`. */
export type DispatchOptions = WaitOptions;

/**
 * A replicated state machine: local synchronous reads, writes through the group.
 */
export interface StateMachine<S, C, R> extends AsyncDisposable {
  /** The local replica's state (immutable). */
  readonly state: S;
  readonly status: MachineStatus;
  /** True unless `status` is `ready`. */
  readonly stale: boolean;
  /** Our incarnation (nodeid, pid, uuid). */
  readonly self: Incarnation;
  /** The transport's clock. */
  readonly clock: Clock;
  /** The index of the last applied entry. */
  readonly index: bigint;
  /**
   * Replicated time (ms since the epoch): the latest command or tick time applied. Far behind
   * the clock when this member applies entries late (a pause, a backlog).
   */
  readonly time: number;
  /**
   * Every entry of the local state up to this index is known to be applied by a strict
   * majority of the replica set `Q`, so no later quorate round can lose it. What a `subscribe`
   * listener saw above it may still be rolled back by a partition (CPG has no safe delivery):
   * act on a change (a grant, a leadership) only once it is at or below this index, while
   * `status` is `ready`. It only grows while the state is this replica's own; a snapshot that
   * replaces the state sets it to 0 until the next quorate round.
   */
  readonly committedIndex: bigint;
  /** The current sync epoch. */
  readonly epoch: number;
  /** Live members with known incarnations, as the replicated state sees them. */
  readonly members: readonly Incarnation[];
  /** Resolves once synced and quorate (`status === 'ready'`). */
  ready(options?: WaitOptions): Promise<void>;
  /**
   * Send a command through the group; resolves with `apply`'s result once our own command
   * came back and was applied (by default: and a majority of the replica set applied it).
   * Rejects with `NoQuorumError` (minority), `CommandFailedError` (apply threw),
   * `InterruptedError` (a membership change dropped it unapplied), `OutcomeUnknownError` (a
   * membership change left its fate unknown), `TimeoutError`, the signal's reason, or
   * `MachineClosedError`.
   */
  dispatch(command: C, options?: DispatchOptions): Promise<R>;
  /** Called after every local change, in apply order. Returns the unsubscribe function. */
  subscribe(listener: (change: StateChange<S, C, R>) => void): () => void;
  /** Status and diagnostics. Returns the unsubscribe function. */
  on<T extends MachineEvent['type']>(
    type: T,
    handler: (event: Extract<MachineEvent, { type: T }>) => void,
  ): () => void;
  /** Changes from now on, as an async iterable. */
  changes(options?: { signal?: AbortSignal }): AsyncIterableIterator<StateChange<S, C, R>>;
  /** A digest of the state (hex), compared between members after sync and periodically. */
  digest(): string;
  /** Leave the group and stop. Idempotent. */
  close(): Promise<void>;
}
