/**
 * `ReplicatedStateMachine`: every member applies the same commands in the same agreed order
 * from the same state. See README.md for the sync protocol and the quorum rule.
 *
 * The facade: open, reads, dispatch, events, close, flush. The replica's shared state lives
 * in local-replica.ts; group-events.ts routes the group's events; each concern has its own
 * module: sync-round.ts drives rounds (sync.ts decides them), entry-stream.ts applies entries
 * (apply.ts, pure), acknowledgement.ts counts acks (acks.ts, pure), replica-set.ts keeps `Q`
 * between rounds, timekeeper.ts proposes ticks and digest checks (digest-check.ts, pure),
 * bootstrap-gate.ts says whether a store may start, journal.ts persists. About 550 lines: the
 * constructor wires those parts together, the rest is the public surface; neither splits.
 * @module
 */
import { freeze } from 'immer';
import {
  CpgError,
  subscriptionIterator,
  deferred,
  withWait,
  type Clock,
  type Deferred,
  type GroupTransport,
  type WaitOptions,
} from '@cpgkit/core';
import { MachineClosedError, NoQuorumError, ValueTooLargeError } from './errors.js';
import type {
  DispatchOptions,
  Incarnation,
  MachineDefinition,
  MachineEvent,
  MachineStatus,
  StateChange,
  StateMachine,
} from './types.js';
import { Kind, MAX_BODY_DEPTH, bodyStart, jsonBody, jsonDepthWithin } from './wire.js';
import { SnapshotStore } from './persistence.js';
import { Journal } from './journal.js';
import { registerReplica } from './replica-access.js';
import { CommandIds } from './command-ids.js';
import { TimedDispatch } from './timed-dispatch.js';
import { writeRefusal } from './phase.js';
import { LocalReplica, NOT_SENT } from './local-replica.js';
import { Acknowledgement } from './acknowledgement.js';
import { BootstrapGate } from './bootstrap-gate.js';
import { EntryStream } from './entry-stream.js';
import { ReplicaSet } from './replica-set.js';
import { SyncRound } from './sync-round.js';
import { Timekeeper } from './timekeeper.js';
import { GroupEvents } from './group-events.js';
import { DeliveryHold } from './delivery-hold.js';
import { sliceTimeOf } from './slices.js';
import { DigestWarmer } from './digest-warmer.js';
import type { OpenOptions } from './open-options.js';

export type { OpenOptions } from './open-options.js';

const DEFAULT_SYNC_TIMEOUT = 3000;
const DEFAULT_CHECK_INTERVAL = 10_000;

/**
 * A replicated state machine over a `GroupTransport`.
 *
 * @example
 * ```ts
 * const m = await ReplicatedStateMachine.open(cluster.transport(1), counter);
 * await m.ready();
 * await m.dispatch({ add: 1 }); // resolves with apply's result on every member's agreement
 * console.log(m.state.n);
 * ```
 */
export class ReplicatedStateMachine<S, C, R = unknown> implements StateMachine<S, C, R> {
  /** Our incarnation uuid (v7). */
  readonly incarnation: string;
  /** The transport's clock. */
  readonly clock: Clock;

  private readonly r: LocalReplica<S, C, R>;
  private readonly store: SnapshotStore | undefined;
  private readonly gate: BootstrapGate;
  private readonly acks: Acknowledgement<S, C, R>;
  private readonly replicaSet: ReplicaSet<S, C, R>;
  private readonly timekeeper: Timekeeper<S, C, R>;
  private readonly stream: EntryStream<S, C, R>;
  private readonly rounds: SyncRound<S, C, R>;
  private readonly groupEvents: GroupEvents<S, C, R>;
  private readonly warmer: DigestWarmer<S, C, R>;
  private readonly commandIds = new CommandIds();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly syncTimeout: number;
  private closing: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly group: GroupTransport,
    private readonly def: MachineDefinition<S, C, R>,
    private readonly options: OpenOptions,
  ) {
    const passive = options.passive ?? false;
    const force = options.bootstrap === 'force';
    if (force && passive)
      throw new RangeError("bootstrap: 'force' needs a long-lived member (passive: false)");
    this.gate = new BootstrapGate(
      options.bootstrap === undefined ? !passive : options.bootstrap !== false,
      force,
      force || options.bootstrap === 'alone',
    );
    this.syncTimeout = options.syncTimeout ?? DEFAULT_SYNC_TIMEOUT;
    const dataDir = options.dataDir;
    const majority = (options.acknowledge ?? 'majority') === 'majority';
    // a client follows the replicas' mode (their acks say it): the option is theirs
    const fsync = options.durability === 'fsync' && !passive;
    if (fsync && (!majority || dataDir === undefined))
      throw new RangeError(
        "durability: 'fsync' needs acknowledge: 'majority', and a dataDir on a replica",
      );
    const slices = sliceTimeOf(group.clock);
    const store = dataDir === undefined ? undefined : new SnapshotStore(dataDir, def.name, slices);
    this.store = store;
    const r = new LocalReplica(group, def, {
      passive,
      log: options.log,
      journal:
        store === undefined
          ? undefined
          : (current) =>
              new Journal<S>(store, options.compactLogBytes ?? 4 * 1024 * 1024, {
                clock: group.clock,
                delay: options.persistDelay ?? 50,
                current,
                log: (line) => r.log(line),
                groupCommit: fsync,
                starting: (image) => {
                  const w = this.acks.diskWriteStarts(image);
                  return (ok) => this.acks.diskWritten(w, ok);
                },
                failed: (index, error) => r.events.emit({ type: 'persist-failed', index, error }),
              }),
    });
    this.r = r;
    this.incarnation = r.incarnation;
    this.clock = r.clock;
    this.acks = new Acknowledgement(r, majority, fsync, store !== undefined);
    this.replicaSet = new ReplicaSet(r);
    this.timekeeper = new Timekeeper(r, options.checkInterval ?? DEFAULT_CHECK_INTERVAL);
    this.stream = new EntryStream(r, this.acks, this.replicaSet, this.timekeeper);
    const parts = {
      acks: this.acks,
      stream: this.stream,
      replicaSet: this.replicaSet,
      timekeeper: this.timekeeper,
      gate: this.gate,
      hold: new DeliveryHold(r.sliceTime),
    };
    this.rounds = new SyncRound(r, parts, {
      syncTimeout: this.syncTimeout,
      chunkSize:
        options.maxChunkSize ?? Math.max(1024, Math.min(512 * 1024, group.maxMessageSize - 1024)),
    });
    this.groupEvents = new GroupEvents(r, { ...parts, rounds: this.rounds });
    r.afterUpdate = () => this.timekeeper.scheduleTick();
    this.warmer = new DigestWarmer(r);
    this.warmer.start();
    r.resync = () => this.rounds.sendSummary();
    registerReplica(this, {
      inspect: () => {
        const { replicas, gone, provenReplicas, provenGone } = r.image;
        return {
          decisionQuorate: r.quorum.decided,
          hasState: r.hasState,
          lineage: { replicas, gone, provenReplicas, provenGone },
        };
      },
      corrupt: (mutate) => {
        const m = mutate as unknown as (state: S) => S;
        r.image = { ...r.image, state: freeze(m(r.image.state), true) };
      },
    });
  }

  /**
   * Join `options.groupName` (default: the machine's name) on `group` and start replicating.
   * `group` must not be joined yet: the machine has to see the membership change that adds it.
   * Resolves once joined; await `ready()` before relying on the state.
   *
   * @param group - an unjoined transport (`cluster.transport(n)`, `await corosync().connect()`...)
   * @param definition - the machine
   * @param options - see `OpenOptions`
   */
  static async open<S, C, R>(
    group: GroupTransport,
    definition: MachineDefinition<S, C, R>,
    options: OpenOptions = {},
  ): Promise<ReplicatedStateMachine<S, C, R>> {
    if (group.joined) {
      throw new CpgError(
        'ReplicatedStateMachine.open needs a transport that has not joined a group yet: it joins itself so that it sees its own membership change',
      );
    }
    const m = new ReplicatedStateMachine(group, definition, options);
    await m.start();
    return m;
  }

  private async start(): Promise<void> {
    const r = this.r;
    if (this.store !== undefined) {
      const identity = await this.store.replicaId();
      r.replica = identity.id;
      const loaded = await this.store.load<S>();
      if (loaded !== undefined) {
        r.image = loaded;
        r.journal?.loaded(loaded.state);
        this.acks.loaded(loaded);
        r.hasState = true;
        r.log(
          `restored ${this.def.name} at epoch ${loaded.epoch} index ${loaded.index} from ${this.store.path}`,
        );
      } else if (!identity.created) {
        this.gate.stateLost();
        r.log(`replica ${identity.id} has no snapshot: it will not bootstrap a new store`);
      }
    }
    const g = this.group;
    const ev = this.groupEvents;
    this.unsubscribe.push(
      g.on('message', (e) => ev.onMessage(e)),
      g.on('membership', (e) => ev.onMembership(e)),
      g.on('totem', (e) => ev.onTotem(e)),
      g.on('quorum', (e) => ev.onQuorum(e)),
    );
    void g.closed().then((err) => {
      if (!r.closed)
        void this.shutdown(err instanceof Error ? err : new MachineClosedError('the group closed'));
    });
    try {
      await g.join(this.options.groupName ?? this.def.name, this.options);
    } catch (e) {
      for (const u of this.unsubscribe) u();
      throw e;
    }
    r.selfId = g.self;
    if (g.quorate !== r.quorum.local) ev.onQuorum({ type: 'quorum', quorate: g.quorate });
  }

  // ---------------------------------------------------------------- public reads

  /**
   * The local replica's state. Immutable by convention (not frozen): never modify it, or
   * anything reachable from it; every apply yields a new state object.
   */
  get state(): S {
    return this.r.image.state;
  }
  /** Where this member stands. */
  get status(): MachineStatus {
    return this.r.phase.kind;
  }
  /**
   * This member holds a state: restored from its data directory, or received or bootstrapped in
   * a sync round (stale until a sync round ends in a quorate component). False for a new member
   * before its first sync.
   */
  get holdsState(): boolean {
    return this.r.hasState;
  }
  /** True unless `status` is `ready`. */
  get stale(): boolean {
    return this.status !== 'ready';
  }
  /** Our incarnation (nodeid, pid, uuid). */
  get self(): Incarnation {
    const id = this.r.selfId ?? { nodeid: 0, pid: 0 };
    return { nodeid: id.nodeid, pid: id.pid, incarnation: this.incarnation };
  }
  /** The index of the last applied entry. */
  get index(): bigint {
    return this.r.image.index;
  }
  /**
   * Every entry of the local state up to this index is applied by a strict majority of `Q`
   * (see `StateMachine.committedIndex`): a change at or below it survives every partition.
   */
  get committedIndex(): bigint {
    return this.acks.committed;
  }
  /** The current sync epoch. */
  get epoch(): number {
    return this.r.image.epoch;
  }
  /** Replicated time (ms): the latest command or tick time applied. */
  get time(): number {
    return this.r.image.time;
  }
  /** Live members with known incarnations, as the replicated state sees them. */
  get members(): readonly Incarnation[] {
    return this.r.image.members;
  }
  /**
   * This member's replica id: a uuid kept in `dataDir` (stable across restarts), or the
   * incarnation when there is none. Passive members never count as replicas.
   */
  get replicaId(): string {
    return this.r.replica;
  }
  /**
   * `Q`, the replica set of the local state: the replica ids of the state-holding members of
   * the last quorate round (minus those that retired since). A round is quorate only with a
   * strict majority of them.
   */
  get replicas(): readonly string[] {
    return this.r.image.replicas;
  }
  /**
   * Messages skipped because they were not ours (foreign programs, other versions or names) or
   * their body did not parse (a field missing or of the wrong type, a time that is not finite).
   */
  get foreign(): number {
    return this.r.foreignCount;
  }
  /**
   * The elected executor: the lowest non-passive member of the current (quorate) component. It
   * proposes ticks and digest checks; the xstate adapter runs `'executor'` actions there.
   */
  get isExecutor(): boolean {
    return this.timekeeper.isExecutor;
  }

  /** A digest of the replicated image (hex sha256). */
  digest(): string {
    return this.r.digest();
  }

  /** Resolves once synced and quorate (`status === 'ready'`). */
  ready(options?: WaitOptions): Promise<void> {
    return this.r.whenReady(options);
  }

  /** Resolves once this member holds a synced state (quorate or not). */
  synced(options?: WaitOptions): Promise<void> {
    return this.r.whenSynced(options);
  }

  // ---------------------------------------------------------------- dispatch

  /**
   * Send a command through the group; resolves with `apply`'s result once our own command came
   * back and was applied, and (with `acknowledge: 'majority'`, the default) a strict majority
   * of the replica set `Q` applied it. Waits for the first sync when called before it.
   */
  dispatch(command: C, options?: DispatchOptions): Promise<R> {
    try {
      this.assertWritable();
      if (this.r.synced) return this.send(command, options);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return this.synced(options).then(() => {
      this.assertWritable();
      return this.send(command, options);
    });
  }

  /** Send and wait for the outcome (`dispatch`); no awaits: one promise per command, its outcome. */
  private send(command: C, options: DispatchOptions | undefined): Promise<R> {
    const id = this.commandIds.take();
    const frame = this.r.jsonFrame(Kind.command, { t: this.clock.wallNow(), c: command }, id);
    if (!jsonDepthWithin(frame, MAX_BODY_DEPTH + 1, bodyStart(frame))) {
      throw new ValueTooLargeError(
        `command nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels; every member would skip it`,
      );
    }
    if (frame.length > this.group.maxMessageSize) {
      throw new ValueTooLargeError(
        `command of ${frame.length} bytes exceeds the group's message limit of ${this.group.maxMessageSize} bytes`,
      );
    }
    const pending = this.r.pending;
    let d: Deferred<unknown>;
    let wait: Promise<unknown>;
    if (options?.signal === undefined && options?.timeout !== undefined) {
      // a timeout alone: one object, no waiter around the dispatch (timed-dispatch.ts)
      wait = (d = new TimedDispatch(pending, id, this.clock, options.timeout)).promise;
      pending.set(id, d);
    } else {
      d = deferred<unknown>();
      pending.set(id, d);
      wait = withWait(d.promise, this.clock, options, 'dispatch', () => pending.delete(id));
    }
    this.group
      .send(frame, options?.signal === undefined ? undefined : { signal: options.signal })
      .catch((e: unknown) => {
        pending.delete(id);
        d.reject(e instanceof Error ? e : new Error(String(e)));
      });
    return wait as Promise<R>;
  }

  private assertWritable(): void {
    const r = this.r;
    const refusal = writeRefusal(r.phase, r.quorum, r.selfId !== undefined);
    if (refusal === 'closed') throw new MachineClosedError('the state machine is closed', NOT_SENT);
    if (refusal === 'no-quorum') throw new NoQuorumError();
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Called after every local change, in apply order. Returns the unsubscribe function. A
   * listener that throws does not stop the others: its error is rethrown later, uncaught
   * (`callHandlers` in @cpgkit/core).
   */
  subscribe(listener: (change: StateChange<S, C, R>) => void): () => void {
    return this.r.events.subscribe(listener);
  }

  /** Status and diagnostics. Returns the unsubscribe function. */
  on<T extends MachineEvent['type']>(
    type: T,
    handler: (event: Extract<MachineEvent, { type: T }>) => void,
  ): () => void {
    return this.r.events.on(type, handler);
  }

  /** Changes from now on, as an async iterable. Ends when the machine closes or `signal` aborts. */
  changes(options?: { signal?: AbortSignal }): AsyncIterableIterator<StateChange<S, C, R>> {
    const it = subscriptionIterator<StateChange<S, C, R>>(
      (push, end) => {
        const unsub = this.subscribe(push);
        const unclose = this.on('closed', () => end());
        return () => {
          unsub();
          unclose();
        };
      },
      { signal: options?.signal },
    );
    if (this.r.closed) it.end();
    return it;
  }

  // ---------------------------------------------------------------- close

  /**
   * Leave the group and stop. Idempotent. A member of the replica set `Q` in a quorate
   * component first retires from `Q` (one agreed step, waited for at most `syncTimeout` ms,
   * after the sync round in progress, if any, which it also waits for at most `syncTimeout`),
   * so that the others keep their majority; while a change of `Q` is unproven, it also waits
   * (at most `syncTimeout`) for the proof its ack may be needed for (see `awaitProof`); then
   * `status` turns `closed` (and `closed` is
   * emitted) at once, and it writes what changed to disk when persisting, and leaves: the promise
   * resolves once both are done.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.retire().catch((e: unknown) => this.r.log(`retire: ${String(e)}`));
      await this.awaitProof().catch((e: unknown) => this.r.log(`proof: ${String(e)}`));
      await this.shutdown(undefined);
    })();
    return this.closing;
  }

  private async retire(): Promise<void> {
    const r = this.r;
    if (r.passive) return;
    const inQ = (q: readonly string[]): boolean => q.length >= 2 && q.includes(r.replica);
    // a round in progress (a client joined or left a moment ago) ends within syncTimeout: wait
    // for it rather than leave without retiring, which could leave the others half of Q
    if (r.phase.kind === 'syncing' && r.hasState && r.quorum.decided && inQ(r.image.replicas))
      await r.whenSynced({ timeout: this.syncTimeout }).catch(() => undefined);
    if (r.closed || r.phase.kind !== 'ready' || !this.group.joined) return;
    if (!inQ(r.image.replicas)) return; // the round may have changed Q
    const id = this.commandIds.take();
    const d = deferred<unknown>();
    r.pending.set(id, d);
    const wait = withWait(d.promise, this.clock, { timeout: this.syncTimeout }, 'retire', () =>
      r.pending.delete(id),
    );
    wait.catch(() => undefined);
    try {
      await this.group.send(r.frame(Kind.retire, jsonBody({ r: r.replica }), id));
    } catch (e) {
      r.pending.delete(id);
      throw e;
    }
    await wait;
    r.log(`retired from the replica set`);
  }

  /**
   * While the epoch is unproven, a replica of its `Q` or of its last proven `Q` may be one whose
   * ack the proof needs (a majority of both, sync.ts "Changing `Q`"), retired or not: it waits
   * for the proof (within `syncTimeout`) before it leaves, so that a graceful close right after
   * a change of `Q` does not leave the others without the majority of the last proven one.
   */
  private async awaitProof(): Promise<void> {
    const r = this.r;
    const counts = (): boolean => {
      const img = r.image;
      return (
        !r.closed &&
        !r.passive &&
        r.hasState &&
        r.quorum.decided &&
        this.group.joined &&
        (img.replicas.includes(r.replica) || img.provenReplicas.includes(r.replica)) &&
        // alone, nobody else waits for our ack
        [...img.replicas, ...img.provenReplicas].some((x) => x !== r.replica)
      );
    };
    // a round in progress may count our summary (and change `Q`): it ends within syncTimeout
    if (counts() && r.phase.kind === 'syncing')
      await r.whenSynced({ timeout: this.syncTimeout }).catch(() => undefined);
    if (!counts() || r.image.settled >= r.image.epoch) return;
    await withWait(this.acks.whenProven(), this.clock, { timeout: this.syncTimeout }, 'proof');
  }

  /** Same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The first shutdown (`close()` and a lost group share it). */
  private shutdown(error: Error | undefined): Promise<void> {
    this.stopping ??= this.stop(error);
    return this.stopping;
  }

  /**
   * Stop: reject what waits, say `closed` at once (a lock holder's signal aborts now, not
   * after a disk write), then persist what changed and leave the group. `close()`
   * resolves once all of it is done.
   */
  private async stop(error: Error | undefined): Promise<void> {
    const r = this.r;
    for (const u of this.unsubscribe) u();
    r.round?.closeTimer?.cancel();
    this.timekeeper.stop();
    this.acks.stop();
    this.warmer.stop();
    const hadState = r.hasState;
    r.close(error);
    await r.journal?.close(hadState);
    if (error === undefined && this.group.joined) await this.group.leave().catch(() => undefined);
  }

  /** Wait until the latest state is on disk (when persisting). */
  async flush(): Promise<void> {
    if (this.r.journal === undefined || !this.r.hasState) return;
    await this.r.journal.now();
  }
}
