/**
 * `ReplicatedMap`: the replicated config store. Local synchronous reads (may be stale),
 * linearizable reads through a read barrier in the agreed order; writes are transactions
 * through the group, each resolving with the store's new revision.
 * @module
 */
import { v7 as uuidv7 } from 'uuid';
import { subscriptionIterator, type GroupTransport, type WaitOptions } from '@cpgkit/core';
import { ReplicatedStateMachine } from '../machine.js';
import type { OpenOptions } from '../open-options.js';
import type { MachineEvent, MachineStatus, StateChange } from '../types.js';
import { roleOptions, type Role } from '../role.js';
import {
  CommandFailedError,
  CompareFailedError,
  HistoryCompactedError,
  NotReadyError,
  StoreFullError,
  ValueTooLargeError,
} from '../errors.js';
import { deepFreeze } from './freeze.js';
import {
  DEFAULT_LIMITS,
  changedLeaves,
  checkSizes,
  forEachEntry,
  getEntry,
  type Json,
  type MapCommand,
  type MapCompare,
  type MapEntry,
  type MapLimits,
  type MapOp,
  type MapResult,
  type MapState,
} from './state.js';
import { mapDefinition } from './definition.js';
import { WatchHistory } from './watch-history.js';

/** One change of the store, as `watch` yields it. */
export interface MapChange {
  readonly type: 'set' | 'delete';
  readonly key: string;
  /** The new value (`set`). */
  readonly value?: Json;
  /** The store revision of the change. */
  readonly revision: number;
  /** The key's create revision (`set`). */
  readonly createRevision?: number;
}

/** A listed entry. */
export interface MapItem extends MapEntry {
  readonly key: string;
}

/** Options for `ReplicatedMap.open`. */
export interface MapOptions extends OpenOptions {
  /**
   * `'replica'` (an embedded replica: holds the store, persists with `dataDir`) or `'client'`
   * (a passive member of the replicas, e.g. of `cpgkit serve`). See `Role`.
   * @defaultValue `'replica'` (unless `passive: true`)
   */
  readonly role?: Role;
  /** The machine name. @defaultValue 'cpgkit.kv' */
  readonly name?: string;
  /** Size limits; every replica of a store must use the same. @defaultValue DEFAULT_LIMITS */
  readonly limits?: Partial<MapLimits>;
  /** How many changes `watch({ fromRevision })` can replay. @defaultValue 10000 */
  readonly historyLimit?: number;
}

/**
 * How a read is served.
 * - `'linearizable'`: through a read barrier in the agreed order (see `ReplicatedMap.sync`):
 *   sees every write acknowledged before the read was called, and never a write that could
 *   still be rolled back. Refused in a minority (`NoQuorumError`), like a write.
 * - `'stale'`: the local replica's state, now (what `get(key)` without options returns).
 */
export type ReadConsistency = 'linearizable' | 'stale';

/** Options of an asynchronous read (`get`, `entry`, `list` with options). */
export interface ReadOptions extends WaitOptions {
  /** @defaultValue 'linearizable' */
  readonly consistency?: ReadConsistency;
}

/** Options for `watch`. */
export interface WatchOptions {
  /**
   * Only changes of this revision and later: first those already in the local history (replayed
   * in order), then live ones. A revision above the current one skips the live changes below
   * it.
   */
  readonly fromRevision?: number;
  readonly signal?: AbortSignal;
}

/**
 * The replicated config store.
 *
 * @example
 * ```ts
 * const kv = await ReplicatedMap.open(transport, { groupName: 'config' });
 * await kv.ready();
 * const rev = await kv.set('db/url', 'postgres://db1');
 * kv.get('db/url'); // 'postgres://db1', on every member
 * for await (const c of kv.watch('db/')) console.log(c.type, c.key, c.value);
 * ```
 */
export class ReplicatedMap implements AsyncDisposable {
  /** The underlying state machine (status, events, digest). */
  readonly machine: ReplicatedStateMachine<MapState, MapCommand, MapResult>;
  /** The limits in force. */
  readonly limits: MapLimits;
  /** The local history of changes, for `watch({ fromRevision })`. */
  private readonly history: WatchHistory;
  private readonly watchers = new Set<(c: MapChange) => void>();
  private lastState: MapState | undefined;
  /** Read barriers in flight: id -> the state at the barrier's place in the log, once applied. */
  private readonly barriers = new Map<string, MapState | undefined>();

  private constructor(
    machine: ReplicatedStateMachine<MapState, MapCommand, MapResult>,
    limits: MapLimits,
    historyLimit: number,
  ) {
    this.machine = machine;
    this.limits = limits;
    this.history = new WatchHistory(historyLimit);
    machine.subscribe((c) => this.onChange(c));
  }

  /**
   * Join the store's group on `group` (unjoined) and start replicating.
   * @param group - an unjoined transport
   * @param options - see `MapOptions`
   */
  static async open(group: GroupTransport, options: MapOptions = {}): Promise<ReplicatedMap> {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const def = mapDefinition(options.name ?? 'cpgkit.kv', limits);
    const machine = await ReplicatedStateMachine.open(group, def, {
      ...roleOptions(options),
      groupName: options.groupName ?? options.name ?? 'cpgkit.kv',
    });
    const map = new ReplicatedMap(machine, limits, options.historyLimit ?? 10_000);
    if (machine.status !== 'syncing') map.resetHistory(machine.state);
    return map;
  }

  // ------------------------------------------------------------------ reads

  /**
   * The value of `key`, or `undefined`. Without options: the local replica's value, now
   * (synchronous; stale in a minority or while the replica lags; `NotReadyError` while the
   * replica holds no state: a new member before its first sync with the group). With options: a promise, linearizable unless
   * `consistency: 'stale'` (see `ReadOptions`; a stale read waits for the first sync). The value
   * is frozen (deeply): it is the store's own, shared by every read.
   * @example
   * ```ts
   * await kv.ready();
   * kv.get('db/url');                                             // local, may be stale
   * await kv.get('db/url', { consistency: 'linearizable' });      // sees every acknowledged write
   * ```
   */
  get(key: string): Json | undefined;
  get(key: string, options: ReadOptions): Promise<Json | undefined>;
  get(key: string, options?: ReadOptions): Json | undefined | Promise<Json | undefined> {
    if (options === undefined) return deepFreeze(getEntry(this.localState(), key)?.value);
    return this.readState(options).then((s) => deepFreeze(getEntry(s, key)?.value));
  }
  /**
   * The entry of `key` (value, revisions, version), or `undefined`; options and `NotReadyError`
   * as for `get`. Frozen.
   */
  entry(key: string): MapEntry | undefined;
  entry(key: string, options: ReadOptions): Promise<MapEntry | undefined>;
  entry(key: string, options?: ReadOptions): MapEntry | undefined | Promise<MapEntry | undefined> {
    if (options === undefined) return deepFreeze(getEntry(this.localState(), key));
    return this.readState(options).then((s) => deepFreeze(getEntry(s, key)));
  }
  /** Whether `key` is set (local; `NotReadyError` as for `get`). */
  has(key: string): boolean {
    return getEntry(this.localState(), key) !== undefined;
  }
  /**
   * Entries whose key starts with `prefix`, sorted by key; options and `NotReadyError` as for
   * `get`. Frozen.
   */
  list(prefix?: string): MapItem[];
  list(prefix: string, options: ReadOptions): Promise<MapItem[]>;
  list(prefix = '', options?: ReadOptions): MapItem[] | Promise<MapItem[]> {
    if (options === undefined) return listOf(this.localState(), prefix);
    return this.readState(options).then((s) => listOf(s, prefix));
  }

  /**
   * Whether local reads answer: the replica holds a state (restored from its data directory, or
   * received from the group in its first sync round; stale until it is `ready`). Before that,
   * `get`, `entry`, `has` and `list` without options throw `NotReadyError`.
   */
  get readable(): boolean {
    return this.machine.holdsState;
  }

  /** The state a synchronous read sees, or `NotReadyError`. */
  private localState(): MapState {
    if (!this.readable)
      throw new NotReadyError(
        this.machine.status === 'closed'
          ? 'the store was closed before it synced with the group: nothing to read'
          : 'the store holds no state yet: it has not synced with the group (await ready() or synced() first, or read with options, which wait)',
      );
    return this.machine.state;
  }

  /**
   * A read barrier: sends a command that changes nothing through the agreed order and
   * resolves, once it was applied here and by a strict majority of the replica set (as a
   * write is acknowledged), with the store's revision at its place in the log. Every write
   * acknowledged (on any member) before `sync` was called is then applied here. Rejects like a
   * write: `NoQuorumError` in a minority, `InterruptedError` or `OutcomeUnknownError` when a
   * membership change dropped it (a read changes nothing: retry), `TimeoutError`, the
   * signal's reason, `MachineClosedError`.
   *
   * A local read right after `sync()` sees at least that state, but may also see later writes
   * that are applied here and not yet acknowledged by a majority (which a partition at that
   * instant could roll back); `get(key, { consistency: 'linearizable' })` reads the state at
   * the barrier's place instead.
   */
  async sync(options?: WaitOptions): Promise<number> {
    return (await this.barrier(options)).revision;
  }

  /** The state a read with `options` sees. */
  private async readState(options: ReadOptions): Promise<MapState> {
    if (options.consistency === 'stale') {
      if (!this.readable) await this.machine.synced(options);
      return this.machine.state;
    }
    return this.barrier(options);
  }

  /** Dispatch a read barrier; resolves with the state at its place in the log. */
  private async barrier(options?: WaitOptions): Promise<MapState> {
    const id = uuidv7();
    this.barriers.set(id, undefined);
    try {
      await this.machine.dispatch({ compares: [], ops: [], barrier: id }, options);
      // dispatch resolves only after our own command was applied here (onChange saw it)
      return this.barriers.get(id) ?? this.machine.state;
    } finally {
      this.barriers.delete(id);
    }
  }

  /** The store revision. */
  get revision(): number {
    return this.machine.state.revision;
  }
  /** How many keys. */
  get size(): number {
    return this.machine.state.count;
  }
  /** Bytes held (keys + JSON values). */
  get bytes(): number {
    return this.machine.state.bytes;
  }
  /** The replica's status (`ready`, `minority`, `syncing`, `closed`). */
  get status(): MachineStatus {
    return this.machine.status;
  }
  /** True unless ready: reads may be stale. */
  get stale(): boolean {
    return this.machine.stale;
  }
  /**
   * Resolves once the replica is synced with the group in a quorate component (`status`
   * `ready`): local reads then answer with the group's state and writes are accepted. Rejects
   * with `TimeoutError`, the signal's reason, or `MachineClosedError`.
   */
  ready(options?: WaitOptions): Promise<void> {
    return this.machine.ready(options);
  }
  /**
   * Resolves once the replica holds a state synced with the group, quorate or not (a minority
   * side syncs too): local reads then answer, maybe stale.
   */
  synced(options?: WaitOptions): Promise<void> {
    return this.machine.synced(options);
  }
  /** Status and diagnostics of the underlying machine. */
  on<T extends MachineEvent['type']>(
    type: T,
    handler: (event: Extract<MachineEvent, { type: T }>) => void,
  ): () => void {
    return this.machine.on(type, handler);
  }

  // ------------------------------------------------------------------ writes

  /** Set `key` to `value`. Resolves with the new store revision. */
  set(key: string, value: Json, options?: WaitOptions): Promise<number> {
    return this.transaction([], [{ op: 'set', key, value }], options);
  }
  /** Delete `key` (no-op when absent). Resolves with the store revision after it. */
  delete(key: string, options?: WaitOptions): Promise<number> {
    return this.transaction([], [{ op: 'delete', key }], options);
  }
  /**
   * Set `key` only if its revision is `expectedRevision` (0: only if absent). Rejects with
   * `CompareFailedError` otherwise.
   */
  compareAndSet(
    key: string,
    expectedRevision: number,
    value: Json,
    options?: WaitOptions,
  ): Promise<number> {
    return this.transaction(
      [{ key, revision: expectedRevision }],
      [{ op: 'set', key, value }],
      options,
    );
  }
  /**
   * Apply `ops` if every compare holds, all or nothing. Resolves with the store revision after
   * it; rejects with `CompareFailedError` (nothing written), `ValueTooLargeError`,
   * `StoreFullError` (a store limit: see `MapLimits`), `NoQuorumError`, `TimeoutError`. (A
   * promise chain, not an async function: no frame and awaits of its own per write.)
   */
  transaction(
    compares: readonly MapCompare[],
    ops: readonly MapOp[],
    options?: WaitOptions,
  ): Promise<number> {
    try {
      for (const op of ops) if (op.op === 'set') checkSizes(op.key, op.value, this.limits);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return this.machine.dispatch({ compares, ops }, options).then(revisionOf, typedFailure);
  }

  // ------------------------------------------------------------------ watch

  /**
   * Changes under `prefix` as an async iterable: first those from `fromRevision` on (from the
   * local history; `HistoryCompactedError` when older than it keeps), then live ones, of
   * revision `fromRevision` or later.
   */
  watch(prefix = '', options: WatchOptions = {}): AsyncIterableIterator<MapChange> {
    const buffer: MapChange[] = [];
    const from = options.fromRevision ?? -Infinity;
    const keep = (c: MapChange): boolean => c.revision >= from && c.key.startsWith(prefix);
    if (options.fromRevision !== undefined) {
      const floor = this.history.floor;
      if (from < floor && from <= this.revision) {
        const oldest = floor === Infinity ? this.revision + 1 : floor;
        throw new HistoryCompactedError(
          `revision ${from} is older than the local history (oldest ${oldest})`,
          oldest,
        );
      }
      for (const c of this.history.since(keep)) buffer.push(frozen(c));
    }
    return subscriptionIterator<MapChange>(
      (push, end) => {
        const watcher = (c: MapChange): void => void (keep(c) && push(c));
        this.watchers.add(watcher);
        const unclose = this.machine.on('closed', () => end());
        if (this.machine.status === 'closed') end();
        return () => {
          this.watchers.delete(watcher);
          unclose();
        };
      },
      { initial: buffer, signal: options.signal },
    );
  }

  private resetHistory(state: MapState): void {
    this.history.reset(state.revision);
    this.lastState = state;
  }

  /** Tell the live watchers of a change (the history holds it already). */
  private tell(c: MapChange): void {
    frozen(c);
    for (const w of [...this.watchers]) w(c);
  }

  private onChange(c: StateChange<MapState, MapCommand, MapResult>): void {
    const prev = this.lastState;
    this.lastState = c.state;
    if (c.kind === 'sync') {
      if (prev === undefined) {
        this.resetHistory(c.state);
        return;
      }
      if (prev === c.state) return;
      // a snapshot replaced our state: report the difference; history before it is unusable
      const diff = diffStates(prev, c.state);
      this.history.reset(c.state.revision);
      for (const d of diff) for (const w of [...this.watchers]) w(d);
      return;
    }
    if (c.kind === 'command' && c.command.barrier !== undefined) {
      if (this.barriers.has(c.command.barrier)) this.barriers.set(c.command.barrier, c.state);
      return;
    }
    if (c.kind !== 'command' || !c.ok || c.result === undefined || !c.result.succeeded) return;
    if (prev !== undefined && prev.revision === c.state.revision) return;
    const rev = c.result.revision;
    for (const op of c.command.ops) {
      const e = getEntry(c.state, op.key);
      if (op.op === 'set') {
        if (e !== undefined && e.revision === rev) {
          // the value is frozen when a watcher sees it (`frozen`)
          const { value, createRevision } = e;
          this.history.set(op.key, value, rev, createRevision);
          if (this.watchers.size > 0)
            this.tell({ type: 'set', key: op.key, value, revision: rev, createRevision });
        }
      } else if (e === undefined && prev !== undefined && getEntry(prev, op.key) !== undefined) {
        this.history.delete(op.key, rev);
        if (this.watchers.size > 0) this.tell({ type: 'delete', key: op.key, revision: rev });
      }
    }
  }

  /** Leave the group and stop. */
  close(): Promise<void> {
    return this.machine.close();
  }
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * `c`, its value deeply frozen: the store's own value, shared with every read. The history
 * freezes a value when a watcher first sees it, not at every write.
 */
/** A transaction's revision, or `CompareFailedError` when a compare failed. */
function revisionOf(r: MapResult): number {
  if (r.succeeded) return r.revision;
  const [key, rev] = [r.failed ?? '', r.revision];
  throw new CompareFailedError(`compare failed on key '${key}' at revision ${rev}`, key, rev);
}

/** A store limit refused on the replicas: the store's own error (the command's as `cause`). */
function typedFailure(e: unknown): never {
  if (!(e instanceof CommandFailedError)) throw e;
  if (e.errorName === 'ValueTooLargeError') throw new ValueTooLargeError(e.message, { cause: e });
  if (e.errorName === 'StoreFullError') throw new StoreFullError(e.message, { cause: e });
  throw e;
}

function frozen(c: MapChange): MapChange {
  deepFreeze(c.value);
  return c;
}

function listOf(state: MapState, prefix: string): MapItem[] {
  const out: MapItem[] = [];
  forEachEntry(state, (key, e) => {
    if (key.startsWith(prefix)) out.push(Object.freeze({ key, ...e, value: deepFreeze(e.value) }));
  });
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function diffStates(a: MapState, b: MapState): MapChange[] {
  const out: MapChange[] = [];
  for (const [x, y] of changedLeaves(a, b)) {
    for (let i = 0; i < y.keys.length; i++) {
      const k = y.keys[i]!;
      const e = y.values[i]!;
      const old = x.get(k);
      if (
        old === undefined ||
        old.revision !== e.revision ||
        old.createRevision !== e.createRevision
      ) {
        out.push({
          type: 'set',
          key: k,
          value: deepFreeze(e.value),
          revision: e.revision,
          createRevision: e.createRevision,
        });
      }
    }
    for (const k of x.keys) {
      if (y.find(k) < 0) out.push({ type: 'delete', key: k, revision: b.revision });
    }
  }
  return out.sort((p, q) => p.revision - q.revision || (p.key < q.key ? -1 : 1));
}
