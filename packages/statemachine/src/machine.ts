/**
 * `ReplicatedStateMachine`: every member applies the same commands in the same agreed order
 * from the same state. See README.md for the sync protocol and the quorum rule, and sync.ts
 * for the decision itself.
 *
 * Still past 500 lines: this class drives the sync rounds, the replica set's bookkeeping (cut
 * off, retire, departed, the epoch bump), acks and the timekeeper, which share the round and
 * the image. The pure parts live on their own (sync.ts decides a round, apply.ts applies an
 * entry, acks.ts computes the commit index, digest-check.ts tallies digests,
 * snapshot-transfer.ts chunks snapshots); the drivers' split into sync-round.ts,
 * replica-set.ts and timekeeper.ts is the next step (issue 15).
 * @module
 */
import { freeze, type Patch } from 'immer';
import { v7 as uuidv7 } from 'uuid';
import {
  CpgError,
  InterruptedError,
  PushIterator,
  type Clock,
  type GroupTransport,
  type MemberId,
  type MembershipEvent,
  type MessageEvent,
  type QuorumEvent,
  type TimerHandle,
  type TotemEvent,
  type WaitOptions,
} from '@cpgkit/core';
import {
  CommandFailedError,
  MachineClosedError,
  NoQuorumError,
  OutcomeUnknownError,
  ValueTooLargeError,
} from './errors.js';
import type {
  DispatchOptions,
  Incarnation,
  MachineDefinition,
  MachineEvent,
  MachineStatus,
  StateChange,
  StateMachine,
} from './types.js';
import {
  Kind,
  MAX_BODY_DEPTH,
  decodeFrame,
  encodeFrame,
  encodeName,
  jsonBody,
  jsonDepthWithin,
  parseAckBody,
  parseCheckBody,
  parseChunkBody,
  parseCloseBody,
  parseCommandBody,
  parseDigestBody,
  parseRetireBody,
  parseSummaryBody,
  parseTickBody,
  type AckBody,
  type CheckBody,
  type ChunkHeader,
  type CloseBody,
  type CommandBody,
  type DigestBody,
  type Frame,
  type KindValue,
  type RetireBody,
  type SummaryBody,
  type TickBody,
} from './wire.js';
import {
  compareMembers,
  decideFull,
  decideIncremental,
  holdsMajority,
  memberKey,
  type Decision,
  type Summary,
} from './sync.js';
import { imageDigest, parseImage, serializeImage, type Image } from './image.js';
import { SnapshotStore } from './persistence.js';
import { Journal } from './journal.js';
import { registerReplica } from './replica-access.js';
import { deferred, withWait, type Deferred } from './wait.js';
import { CommandIds } from './command-ids.js';
import { commitIndex } from './acks.js';
import { applyCommand, applyMembership, applyTick } from './apply.js';
import { tallyDigests, type Check } from './digest-check.js';
import { assembleChunks, snapshotFrames, type Transfer } from './snapshot-transfer.js';

/** A `MachineClosedError` option: refused before anything was sent. */
const NOT_SENT = { outcome: 'not-applied' } as const;
/** Options for `ReplicatedStateMachine.open`. */
export interface OpenOptions extends WaitOptions {
  /**
   * The group to join. `open` joins the (not yet joined) transport itself so that it sees the
   * membership change that includes it.
   * @defaultValue the machine's `name`
   */
  readonly groupName?: string;
  /**
   * Persist in this directory (crash-safe: a log of changes plus snapshots, see README,
   * "Durability"); restore from it on start. The directory
   * also keeps this member's replica id, so a restart with it counts as the same replica in
   * the replica set `Q` (see README, "Quorum rule").
   */
  readonly dataDir?: string;
  /**
   * A short-lived client (e.g. a one-shot CLI command): never the timekeeper, never starts a
   * store from the initial state; it waits for a replica that holds state.
   * @defaultValue false
   */
  readonly passive?: boolean;
  /**
   * `true`: may start from `definition.initial` when no member of the component holds any
   * state and none was ever seen (a brand-new cluster). `false`: never.
   *
   * `'force'`: the operator's escape hatch when a majority of the replica set `Q` is gone for
   * good (their disks lost). The first node-quorate round this member takes part in is
   * quorate whatever `Q` says; the newest state present in that round wins (this member's, or
   * `initial` when nobody present holds state) and `Q` restarts from the round's members.
   * Acknowledged writes that only the lost replicas held are gone. Never automatic; use it on
   * one member, once, and open it normally afterwards.
   * @defaultValue `!passive`
   */
  readonly bootstrap?: boolean | 'force';
  /**
   * After this long (ms, on the group's clock) a sync round that silent members (programs that
   * do not speak the format) hold up is closed without them.
   * @defaultValue 3000
   */
  readonly syncTimeout?: number;
  /**
   * How often (ms) the timekeeper asks every member to compare state digests; 0 disables the
   * periodic check (digests are still checked after every sync).
   * @defaultValue 10000
   */
  readonly checkInterval?: number;
  /**
   * Persist (append the changes to the log) at most this often (ms), and on close.
   * @defaultValue 50
   */
  readonly persistDelay?: number;
  /**
   * With `dataDir`: a new snapshot replaces the log once the log holds this many bytes and at
   * least as many as the last snapshot.
   * @defaultValue 4 MiB
   */
  readonly compactLogBytes?: number;
  /** The largest snapshot chunk in bytes. @defaultValue min(512 KiB, group.maxMessageSize - 1 KiB) */
  readonly maxChunkSize?: number;
  /**
   * When `dispatch` resolves. `'majority'`: once a strict majority of the replica set `Q`
   * applied the command (each replica announces what it applied; one more agreed message per
   * batch), so an acknowledged command survives any partition. `'local'`: as soon as this
   * member applied it (lower latency), at the risk that a partition at that instant
   * delivered it on this member's side only and a majority goes on without it (see README,
   * "Durability, and where the guarantees end").
   * @defaultValue 'majority'
   */
  readonly acknowledge?: 'majority' | 'local';
  /** Diagnostics (sync decisions, mismatches). @defaultValue none */
  readonly log?: (line: string) => void;
}

interface Pending {
  readonly d: Deferred<unknown>;
}

interface Round {
  readonly key: string;
  readonly members: readonly MemberId[];
  readonly summaries: Map<string, Summary>;
  decision: Decision | undefined;
  seq: number;
  synced: Set<string>;
  knownNodes: number;
  /** The component's replica set `Q` as of the latest decision. */
  q: readonly string[];
  /** The component's departed replicas of `Q` (`Image.gone`) as of the latest decision. */
  gone: readonly string[];
  transfer: Transfer | undefined;
  closeTimer: TimerHandle | undefined;
}

/** The body of an entry of the agreed stream (`command`, `tick`, `retire`), validated. */
type EntryBody = CommandBody | TickBody | RetireBody;

type Queued = { readonly frame: Frame; readonly body: EntryBody; readonly sender: MemberId };

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
  readonly incarnation: string = uuidv7();
  /** The transport's clock. */
  readonly clock: Clock;

  private image: Image<S>;
  private readonly commandIds = new CommandIds();
  private hasState = false;
  private dirty = false;
  private localQuorate = false;
  private decisionQuorate = false;
  private syncing = true;
  private isClosed = false;
  private ring: { id: string; nodes: readonly number[] } | undefined;
  private round: Round | undefined;
  private summarySeq = 0;
  private queue: Queued[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly nameBytes: Uint8Array;
  private readonly store: SnapshotStore | undefined;
  private readonly journal: Journal<S> | undefined;
  private readonly listeners = new Set<(c: StateChange<S, C, R>) => void>();
  private readonly handlers = new Map<string, Set<(e: MachineEvent) => void>>();
  private readonly readyWaiters = new Set<Deferred<void>>();
  private readonly syncWaiters = new Set<Deferred<void>>();
  private readonly unsubscribe: (() => void)[] = [];
  private foreignCount = 0;
  private lastStatus: MachineStatus = 'syncing';
  private tickTimer: TimerHandle | undefined;
  private tickInFlight = false;
  private checkTimer: TimerHandle | undefined;
  private checkCounter = 0;
  private readonly checks = new Map<string, Check>();
  private persistTimer: TimerHandle | undefined;
  private persisting: Promise<void> = Promise.resolve();
  private digestCache:
    | {
        state: S;
        index: bigint;
        members: unknown;
        knownNodes: unknown;
        replicas: unknown;
        gone: unknown;
        digest: string;
      }
    | undefined;
  private selfId: MemberId | undefined;
  /** Other members of the first view we saw (our join). */
  private firstView: Set<string> | undefined;
  /** Members we saw say they hold no state. */
  private readonly seenFresh = new Set<string>();
  /** Whether we ever saw another member that holds state. */
  private sawHolder = false;
  /** Our state is the quorate component's, synced by its last finished round. */
  private primary = false;
  /**
   * The participants of the last quorate round we finished (key -> replica id) that have been
   * in every view since: they delivered the same agreed stream as we did since that round.
   */
  private readonly quoratePeers = new Map<string, string>();
  /** Cut off from a majority of `Q` by a confchg, until the next decision (`noteCutOff`). */
  private cutOff = false;
  private readonly passive: boolean;
  private readonly bootstrap: boolean;
  /** `bootstrap: 'force'`, until the first quorate round this member takes part in. */
  private force: boolean;
  private replica: string;
  /** The data directory had a replica id but no snapshot: this replica lost its state. */
  private lostState = false;
  private closing: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly ackMajority: boolean;
  /** Our own commands applied and waiting for a majority of `Q` to apply them, by index. */
  private unacked: { index: bigint; id: string; result: unknown }[] = [];
  /** What each replica of `Q` said it applied in this round (reset at every round start). */
  private readonly progress = new Map<string, bigint>();
  /**
   * The index at which `Q` last changed in this lineage (a quorate round finished, a retire):
   * a replica whose ack in this round reaches it has proven that it holds the current `Q`.
   */
  private qIndex = 0n;
  /**
   * Replicas of `Q` that acked an index at or above `qIndex`: they hold the current `Q`.
   * Cleared when `Q` changes; kept across rounds and confchgs while `Q` stays.
   */
  private readonly proven = new Set<string>();
  /** See `committedIndex`. */
  private committed = 0n;
  private ackScheduled = false;
  /** Our state was replaced by a snapshot since the last quorate round we finished. */
  private replaced = false;
  private readonly syncTimeout: number;
  private readonly checkInterval: number;
  private readonly persistDelay: number;
  private readonly log: (line: string) => void;
  private readonly tracing: boolean;

  private constructor(
    private readonly group: GroupTransport,
    private readonly def: MachineDefinition<S, C, R>,
    private readonly options: OpenOptions,
  ) {
    this.clock = group.clock;
    this.nameBytes = encodeName(def.name);
    this.passive = options.passive ?? false;
    this.force = options.bootstrap === 'force';
    if (this.force && this.passive)
      throw new RangeError("bootstrap: 'force' needs a long-lived member (passive: false)");
    this.bootstrap = options.bootstrap === undefined ? !this.passive : options.bootstrap !== false;
    this.replica = this.incarnation;
    this.ackMajority = (options.acknowledge ?? 'majority') === 'majority';
    this.syncTimeout = options.syncTimeout ?? DEFAULT_SYNC_TIMEOUT;
    this.checkInterval = options.checkInterval ?? DEFAULT_CHECK_INTERVAL;
    this.persistDelay = options.persistDelay ?? 50;
    this.log = options.log ?? (() => undefined);
    this.tracing = options.log !== undefined;
    this.store =
      options.dataDir === undefined ? undefined : new SnapshotStore(options.dataDir, def.name);
    this.journal =
      this.store === undefined
        ? undefined
        : new Journal<S>(this.store, options.compactLogBytes ?? 4 * 1024 * 1024);
    this.image = this.initialImage(0);
    registerReplica(this, {
      inspect: () => ({ decisionQuorate: this.decisionQuorate, hasState: this.hasState }),
      corrupt: (mutate) => {
        const m = mutate as unknown as (state: S) => S;
        this.image = { ...this.image, state: freeze(m(this.image.state), true) };
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
    if (this.store !== undefined) {
      const identity = await this.store.replicaId();
      this.replica = identity.id;
      const loaded = await this.store.load<S>();
      if (loaded !== undefined) {
        this.image = loaded;
        this.journal?.loaded(loaded.state);
        this.hasState = true;
        this.log(
          `restored ${this.def.name} at epoch ${loaded.epoch} index ${loaded.index} from ${this.store.path}`,
        );
      } else if (!identity.created) {
        this.lostState = true;
        this.log(`replica ${identity.id} has no snapshot: it will not bootstrap a new store`);
      }
    }
    const g = this.group;
    this.unsubscribe.push(
      g.on('message', (e) => this.onMessage(e)),
      g.on('membership', (e) => this.onMembership(e)),
      g.on('totem', (e) => this.onTotem(e)),
      g.on('quorum', (e) => this.onQuorum(e)),
    );
    void g.closed().then((err) => {
      if (!this.isClosed)
        void this.shutdown(err instanceof Error ? err : new MachineClosedError('the group closed'));
    });
    try {
      await g.join(this.options.groupName ?? this.def.name, this.options);
    } catch (e) {
      for (const u of this.unsubscribe) u();
      throw e;
    }
    this.selfId = g.self;
    if (g.quorate !== this.localQuorate) this.onQuorum({ type: 'quorum', quorate: g.quorate });
  }

  // ---------------------------------------------------------------- public reads

  /**
   * The local replica's state. Immutable by convention (not frozen): never modify it, or
   * anything reachable from it; every apply yields a new state object.
   */
  get state(): S {
    return this.image.state;
  }
  /** Where this member stands. */
  get status(): MachineStatus {
    if (this.isClosed) return 'closed';
    if (this.cutOff) return 'minority';
    if (this.syncing || !this.hasState) return 'syncing';
    if (!this.decisionQuorate || !this.localQuorate) return 'minority';
    return 'ready';
  }
  /**
   * This member holds a state: restored from its data directory, or received or bootstrapped in
   * a sync round (stale until a sync round ends in a quorate component). False for a new member
   * before its first sync.
   */
  get holdsState(): boolean {
    return this.hasState;
  }
  /** True unless `status` is `ready`. */
  get stale(): boolean {
    return this.status !== 'ready';
  }
  /** Our incarnation (nodeid, pid, uuid). */
  get self(): Incarnation {
    const id = this.selfId ?? { nodeid: 0, pid: 0 };
    return { nodeid: id.nodeid, pid: id.pid, incarnation: this.incarnation };
  }
  /** The index of the last applied entry. */
  get index(): bigint {
    return this.image.index;
  }
  /**
   * Every entry of the local state up to this index is applied by a strict majority of `Q`
   * (see `StateMachine.committedIndex`): a change at or below it survives every partition.
   */
  get committedIndex(): bigint {
    return this.committed;
  }
  /** The current sync epoch. */
  get epoch(): number {
    return this.image.epoch;
  }
  /** Replicated time (ms): the latest command or tick time applied. */
  get time(): number {
    return this.image.time;
  }
  /** Live members with known incarnations, as the replicated state sees them. */
  get members(): readonly Incarnation[] {
    return this.image.members;
  }
  /**
   * This member's replica id: a uuid kept in `dataDir` (stable across restarts), or the
   * incarnation when there is none. Passive members never count as replicas.
   */
  get replicaId(): string {
    return this.replica;
  }
  /**
   * `Q`, the replica set of the local state: the replica ids of the state-holding members of
   * the last quorate round (minus those that retired since). A round is quorate only with a
   * strict majority of them.
   */
  get replicas(): readonly string[] {
    return this.image.replicas;
  }
  /**
   * Messages skipped because they were not ours (foreign programs, other versions or names) or
   * their body did not parse (a field missing or of the wrong type, a time that is not finite).
   */
  get foreign(): number {
    return this.foreignCount;
  }
  /**
   * The elected executor: the lowest non-passive member of the current (quorate) component. It
   * proposes ticks and digest checks; the xstate adapter runs `'executor'` actions there.
   */
  get isExecutor(): boolean {
    return this.status === 'ready' && this.executorKey() === this.selfKey();
  }

  /** A digest of the replicated image (hex sha256). */
  digest(): string {
    const c = this.digestCache;
    const img = this.image;
    if (
      c !== undefined &&
      c.state === img.state &&
      c.index === img.index &&
      c.members === img.members &&
      c.knownNodes === img.knownNodes &&
      c.replicas === img.replicas &&
      c.gone === img.gone
    )
      return c.digest;
    const digest = imageDigest(img);
    this.digestCache = {
      state: img.state,
      index: img.index,
      members: img.members,
      knownNodes: img.knownNodes,
      replicas: img.replicas,
      gone: img.gone,
      digest,
    };
    return digest;
  }

  /** Resolves once synced and quorate (`status === 'ready'`). */
  ready(options?: WaitOptions): Promise<void> {
    if (this.isClosed)
      return Promise.reject(new MachineClosedError('the state machine is closed', NOT_SENT));
    if (this.status === 'ready') return Promise.resolve();
    const d = deferred<void>();
    this.readyWaiters.add(d);
    return withWait(d.promise, this.clock, options, 'ready', () => this.readyWaiters.delete(d));
  }

  /** Resolves once this member holds a synced state (quorate or not). */
  synced(options?: WaitOptions): Promise<void> {
    if (this.isClosed)
      return Promise.reject(new MachineClosedError('the state machine is closed', NOT_SENT));
    if (!this.syncing && this.hasState) return Promise.resolve();
    const d = deferred<void>();
    this.syncWaiters.add(d);
    return withWait(d.promise, this.clock, options, 'sync', () => this.syncWaiters.delete(d));
  }

  // ---------------------------------------------------------------- dispatch

  /**
   * Send a command through the group; resolves with `apply`'s result once our own command came
   * back and was applied, and (with `acknowledge: 'majority'`, the default) a strict majority
   * of the replica set `Q` applied it. Waits for the first sync when called before it.
   */
  async dispatch(command: C, options?: DispatchOptions): Promise<R> {
    this.assertWritable();
    if (this.syncing || !this.hasState) {
      await this.synced(options);
      this.assertWritable();
    }
    const id = this.commandIds.take();
    const body = jsonBody({ t: this.clock.wallNow(), c: command });
    if (!jsonDepthWithin(body, MAX_BODY_DEPTH + 1)) {
      throw new ValueTooLargeError(
        `command nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels; every member would skip it`,
      );
    }
    const frame = this.frame(Kind.command, body, id);
    if (frame.length > this.group.maxMessageSize) {
      throw new ValueTooLargeError(
        `command of ${frame.length} bytes exceeds the group's message limit of ${this.group.maxMessageSize} bytes`,
      );
    }
    const d = deferred<unknown>();
    this.pending.set(id, { d });
    const wait = withWait(d.promise, this.clock, options, 'dispatch', () =>
      this.pending.delete(id),
    );
    try {
      await this.group.send(
        frame,
        options?.signal === undefined ? undefined : { signal: options.signal },
      );
    } catch (e) {
      this.pending.delete(id);
      d.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return (await wait) as R;
  }

  private assertWritable(): void {
    if (this.isClosed) throw new MachineClosedError('the state machine is closed', NOT_SENT);
    if (this.cutOff || (!this.localQuorate && this.selfId !== undefined)) throw new NoQuorumError();
    if (!this.syncing && this.hasState && !this.decisionQuorate) throw new NoQuorumError();
  }

  // ---------------------------------------------------------------- subscriptions

  /** Called after every local change, in apply order. Returns the unsubscribe function. */
  subscribe(listener: (change: StateChange<S, C, R>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Status and diagnostics. Returns the unsubscribe function. */
  on<T extends MachineEvent['type']>(
    type: T,
    handler: (event: Extract<MachineEvent, { type: T }>) => void,
  ): () => void {
    let set = this.handlers.get(type);
    if (set === undefined) this.handlers.set(type, (set = new Set()));
    const h = handler as (e: MachineEvent) => void;
    set.add(h);
    return () => set.delete(h);
  }

  /** Changes from now on, as an async iterable. Ends when the machine closes or `signal` aborts. */
  changes(options?: { signal?: AbortSignal }): AsyncIterableIterator<StateChange<S, C, R>> {
    const unsub = this.subscribe((c) => it.push(c));
    const unclose = this.on('closed', () => it.end());
    const it: PushIterator<StateChange<S, C, R>> = new PushIterator({
      signal: options?.signal,
      onEnd: () => {
        unsub();
        unclose();
      },
    });
    if (this.isClosed) it.end();
    return it;
  }

  private emit(e: MachineEvent): void {
    const set = this.handlers.get(e.type);
    if (set === undefined) return;
    for (const h of [...set]) {
      try {
        h(e);
      } catch (err) {
        this.log(`event handler threw: ${String(err)}`);
      }
    }
  }

  private notify(c: StateChange<S, C, R>): void {
    for (const l of [...this.listeners]) {
      try {
        l(c);
      } catch (err) {
        this.log(`subscriber threw: ${String(err)}`);
      }
    }
  }

  private updateStatus(): void {
    const s = this.status;
    if (s !== this.lastStatus) {
      this.lastStatus = s;
      this.emit({ type: 'status', status: s });
    }
    if (s === 'ready') {
      for (const d of this.readyWaiters) d.resolve();
      this.readyWaiters.clear();
    }
    if (!this.syncing && this.hasState) {
      for (const d of this.syncWaiters) d.resolve();
      this.syncWaiters.clear();
    }
    this.scheduleTick();
  }

  // ---------------------------------------------------------------- close

  /**
   * Leave the group and stop. Idempotent. A member of the replica set `Q` in a quorate
   * component first retires from `Q` (one agreed step, waited for at most `syncTimeout` ms),
   * so that the others keep their majority; then `status` turns `closed` (and `closed` is
   * emitted) at once, and it writes what changed to disk when persisting, and leaves: the promise
   * resolves once both are done.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.retire().catch((e: unknown) => this.log(`retire: ${String(e)}`));
      await this.shutdown(undefined);
    })();
    return this.closing;
  }

  private async retire(): Promise<void> {
    const q = this.image.replicas;
    if (this.isClosed || this.passive || this.status !== 'ready' || !this.group.joined) return;
    if (q.length < 2 || !q.includes(this.replica)) return;
    const id = this.commandIds.take();
    const d = deferred<unknown>();
    this.pending.set(id, { d });
    const wait = withWait(d.promise, this.clock, { timeout: this.syncTimeout }, 'retire', () =>
      this.pending.delete(id),
    );
    wait.catch(() => undefined);
    try {
      await this.group.send(this.frame(Kind.retire, jsonBody({ r: this.replica }), id));
    } catch (e) {
      this.pending.delete(id);
      throw e;
    }
    await wait;
    this.log(`retired from the replica set`);
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
    this.isClosed = true;
    for (const u of this.unsubscribe) u();
    this.round?.closeTimer?.cancel();
    this.tickTimer?.cancel();
    this.checkTimer?.cancel();
    this.persistTimer?.cancel();
    const err = new MachineClosedError(
      'the state machine is closed',
      error === undefined ? {} : { cause: error },
    );
    for (const p of this.pending.values()) p.d.reject(err);
    this.pending.clear();
    // waiting for ready or the first sync: nothing was sent
    const unsent = new MachineClosedError(
      err.message,
      error === undefined ? NOT_SENT : { ...NOT_SENT, cause: error },
    );
    for (const d of this.readyWaiters) d.reject(unsent);
    this.readyWaiters.clear();
    for (const d of this.syncWaiters) d.reject(unsent);
    this.syncWaiters.clear();
    this.lastStatus = 'closed';
    this.emit({ type: 'status', status: 'closed' });
    this.emit(error === undefined ? { type: 'closed' } : { type: 'closed', error });
    if (this.store !== undefined) {
      if (this.hasState) await this.persistNow().catch(() => undefined);
      await this.persisting;
      await this.store.close().catch(() => undefined);
    }
    if (error === undefined && this.group.joined) await this.group.leave().catch(() => undefined);
  }

  // ---------------------------------------------------------------- group events

  private selfKey(): string | undefined {
    if (this.selfId === undefined) {
      try {
        this.selfId = this.group.self;
      } catch {
        return undefined;
      }
    }
    return memberKey(this.selfId);
  }

  private onMembership(e: MembershipEvent): void {
    if (this.isClosed) return;
    const me = this.selfKey();
    if (me === undefined) return;
    if (!e.members.some((m) => memberKey(m) === me)) {
      // evicted (or our own leave): stop replicating; the state stays readable
      if (this.group.joined) this.log('evicted from the group');
      return;
    }
    if (this.firstView === undefined)
      this.firstView = new Set(e.members.map(memberKey).filter((k) => k !== me));
    this.dropDeparted(e);
    this.noteCutOff(e);
    this.bumpEpochIfMajority(e);
    // members that left with their node may go on elsewhere (a partition), where a round can
    // finish and apply what our unfinished round drops
    const split = e.left.some((l) => l.reason === 'nodedown');
    this.startRound([...e.members].sort(compareMembers), split);
  }

  /**
   * A member of a quorate component that sees nodes go down and keeps no strict majority of
   * `Q` among its peers is in a minority from this confchg on: it says so at once (status
   * `minority`, dispatch refused) rather than after its sync round or its node's quorum event,
   * since the other side may be deciding a quorate round already. The next decision settles it.
   */
  private noteCutOff(e: MembershipEvent): void {
    if (e.joined.length > 0) {
      this.cutOff = false;
      return;
    }
    const q = this.image.replicas;
    if (!this.primary || q.length === 0 || !e.left.some((l) => l.reason === 'nodedown')) return;
    const staying = [this.replica, ...this.quoratePeers.values()];
    if (holdsMajority(staying, q, this.image.gone)) return;
    const here = new Set(staying);
    const n = q.filter((r) => here.has(r)).length;
    this.cutOff = true;
    this.log(`cut off: the members left hold ${n} of the ${q.length} replicas of Q`);
  }

  /**
   * A fresh member may start from the initial state only if it never saw a member that holds
   * state and every member that was there when it joined said it holds none: a member that
   * joined an existing group and got cut off before it synced must not fork an empty state.
   */
  private mayBootstrap(): boolean {
    if (!this.bootstrap || this.lostState || this.sawHolder || this.firstView === undefined)
      return false;
    for (const k of this.firstView) if (!this.seenFresh.has(k)) return false;
    return true;
  }

  private onTotem(e: TotemEvent): void {
    if (this.isClosed) return;
    const id = `${e.ringId.nodeid}.${e.ringId.seq}`;
    if (this.ring?.id === id) return;
    this.ring = { id, nodes: [...e.nodes].sort((a, b) => a - b) };
    if (this.round !== undefined) this.startRound(this.round.members);
  }

  private onQuorum(e: QuorumEvent): void {
    if (this.isClosed) return;
    if (e.quorate === this.localQuorate) return;
    this.localQuorate = e.quorate;
    this.emit({ type: 'quorum', quorate: e.quorate });
    this.updateStatus();
    if (this.round !== undefined) this.sendSummary();
  }

  /** Count and skip a message that is not ours, or whose body does not parse. */
  private skipForeign(): void {
    this.foreignCount++;
    this.emit({ type: 'foreign', count: this.foreignCount });
  }

  /**
   * Every body is validated (wire.ts) before a handler sees it: a malformed one is counted as
   * foreign and skipped, identically on every member (they all receive the same bytes), so
   * it can neither throw out of a handler nor reach the replicated state.
   */
  private onMessage(e: MessageEvent): void {
    if (this.isClosed) return;
    try {
      this.handleMessage(e);
    } catch (err) {
      // Nothing a member sends may throw out of the message path (the transport would
      // rethrow it as an uncaught exception). A throw here is a bug that may have left this
      // replica's state half-updated: it stops trusting its state and asks for a snapshot.
      this.log(`message handler failed (state marked dirty): ${String(err)}`);
      this.dirty = true;
      this.sendSummary();
    }
  }

  private handleMessage(e: MessageEvent): void {
    const f = decodeFrame(e.data);
    if (f === undefined || f.name !== this.def.name) {
      this.skipForeign();
      return;
    }
    if (this.tracing && f.kind !== Kind.summary)
      this.log(`recv kind ${f.kind} from ${memberKey(e.sender)}`);
    switch (f.kind) {
      case Kind.command:
      case Kind.tick:
      case Kind.retire: {
        const body =
          f.kind === Kind.command
            ? parseCommandBody(f.body)
            : f.kind === Kind.tick
              ? parseTickBody(f.body)
              : parseRetireBody(f.body);
        if (body === undefined) {
          this.skipForeign();
        } else if (this.round?.decision !== undefined && !this.participates(this.round.decision)) {
          // left out of the round's decision: the participants apply this; we get it with
          // our snapshot once our summary is in
          this.forget(f);
        } else if (this.syncing || this.round?.decision === undefined) {
          if (this.tracing) this.log(`queue ${f.kind} from ${memberKey(e.sender)}`);
          this.queue.push({ frame: f, body, sender: e.sender });
        } else this.applyEntry(f, body, e.sender);
        return;
      }
      case Kind.summary: {
        const body = parseSummaryBody(f.body);
        if (body === undefined) this.skipForeign();
        else this.onSummary(f, body, e.sender);
        return;
      }
      case Kind.snapshot: {
        const chunk = parseChunkBody(f.body);
        if (chunk === undefined) this.skipForeign();
        else this.onChunk(f, chunk.header, chunk.bytes, e.sender);
        return;
      }
      case Kind.close: {
        const body = parseCloseBody(f.body);
        if (body === undefined) this.skipForeign();
        else this.onClose(body);
        return;
      }
      case Kind.check: {
        const body = parseCheckBody(f.body);
        if (body === undefined) this.skipForeign();
        else this.onCheck(body);
        return;
      }
      case Kind.digest: {
        const body = parseDigestBody(f.body);
        if (body === undefined) this.skipForeign();
        else this.onDigest(f, body, e.sender);
        return;
      }
      case Kind.ack: {
        const body = parseAckBody(f.body);
        if (body === undefined) this.skipForeign();
        else this.onAck(f, body);
        return;
      }
    }
  }

  // ---------------------------------------------------------------- sync rounds

  private roundKey(members: readonly MemberId[]): string {
    return `${members.map(memberKey).join(',')}|${this.ring?.id ?? '-'}`;
  }

  /**
   * @param split - the membership change took members away with their node (`nodedown`): the
   *   entries dropped here may be applied on the other side of a partition
   */
  private startRound(members: readonly MemberId[], split = false): void {
    this.round?.closeTimer?.cancel();
    const round: Round = {
      key: this.roundKey(members),
      members,
      summaries: new Map(),
      decision: undefined,
      seq: 0,
      synced: new Set(),
      knownNodes: 0,
      q: [],
      gone: [],
      transfer: undefined,
      closeTimer: undefined,
    };
    this.round = round;
    if (this.tracing) this.log(`round ${round.key} starts`);
    // Entries queued in a round that never finished were delivered to the members of the old
    // view only: a joiner of this round never saw them, so nobody applies them (identically on
    // every member that passed through that view). Their senders retry. Unless members left
    // with their node: on their side of a partition the round may have finished and applied
    // them, so the outcome is unknown there.
    const dropped = this.queue;
    this.queue = [];
    for (const q of dropped) {
      if (q.frame.incarnation === this.incarnation && q.frame.commandId !== undefined) {
        this.settle(
          q.frame.commandId,
          undefined,
          split
            ? new OutcomeUnknownError(
                'dispatch: a partition interrupted the sync round that held the command; members on the other side may have applied it',
              )
            : new InterruptedError(
                'dispatch: interrupted by a membership change before it could be applied; it was not applied, retry',
              ),
        );
      }
    }
    this.syncing = true;
    this.tickInFlight = false;
    this.checks.clear();
    this.progress.clear();
    this.updateStatus();
    this.sendSummary();
    round.closeTimer = this.clock.setTimeout(() => this.maybeClose(round), this.syncTimeout);
  }

  private sendSummary(): void {
    const round = this.round;
    if (round === undefined || this.isClosed) return;
    const img = this.image;
    const body: SummaryBody = {
      round: round.key,
      seq: ++this.summarySeq,
      epoch: img.epoch,
      index: img.index.toString(),
      digest: this.hasState ? this.digest() : '',
      primary: this.primary && this.hasState && !this.dirty,
      fresh: !this.hasState,
      dirty: this.dirty,
      passive: this.passive,
      bootstrap: this.mayBootstrap(),
      force: this.force,
      quorate: this.localQuorate,
      ringNodes: this.ring?.nodes.length ?? 0,
      knownNodes: img.knownNodes.length,
      replica: this.replica,
      replicas: this.hasState ? img.replicas : [],
      gone: this.hasState ? img.gone : [],
      time: this.clock.wallNow(),
    };
    this.sendQuiet(this.frame(Kind.summary, jsonBody(body)));
  }

  private onSummary(f: Frame, b: SummaryBody, sender: MemberId): void {
    const round = this.round;
    const key = memberKey(sender);
    if (key !== this.selfKey()) {
      const could = this.mayBootstrap();
      if (b.fresh) this.seenFresh.add(key);
      else this.sawHolder = true;
      // The last member of our first view said it holds nothing (a client that was there
      // before us, say): we may start the store now; say so, or the round stays `nostate`.
      if (!could && this.mayBootstrap() && round !== undefined && !this.hasState)
        queueMicrotask(() => this.sendSummary());
    }
    if (round === undefined || b.round !== round.key) return;
    if (!round.members.some((m) => memberKey(m) === key)) return;
    const prev = round.summaries.get(key);
    if (prev !== undefined && prev.seq >= b.seq) return;
    // parseSummaryBody built `b` field by field: nothing but the summary's fields to spread
    const { round: _round, index, ...fields } = b;
    const s: Summary = {
      key,
      nodeid: sender.nodeid,
      pid: sender.pid,
      incarnation: f.incarnation,
      ...fields,
      index: BigInt(index),
    };
    round.summaries.set(key, s);
    if (round.decision === undefined) {
      if (round.members.every((m) => round.summaries.has(memberKey(m)))) {
        this.decide(round, decideFull([...round.summaries.values()]));
      }
      return;
    }
    this.redecide(round, key);
  }

  private maybeClose(round: Round): void {
    if (this.round !== round || round.decision !== undefined || this.isClosed) return;
    const keys = [...round.summaries.keys()];
    const lowest = [...round.summaries.values()].sort(compareMembers)[0];
    if (lowest !== undefined && lowest.key === this.selfKey()) {
      this.log(
        `closing sync round without silent members (${round.members.length - keys.length} silent)`,
      );
      this.sendQuiet(this.frame(Kind.close, jsonBody({ round: round.key, participants: keys })));
    }
    round.closeTimer = this.clock.setTimeout(() => this.maybeClose(round), this.syncTimeout);
  }

  private onClose(b: CloseBody): void {
    const round = this.round;
    if (round === undefined || round.decision !== undefined || b.round !== round.key) return;
    const parts = b.participants
      .map((k) => round.summaries.get(k))
      .filter((s): s is Summary => s !== undefined);
    if (parts.length === 0) return;
    this.decide(round, decideFull(parts));
    // summaries that arrived after the close was sent: the same at this point everywhere
    for (const late of [...round.summaries.keys()].filter((k) => !parts.some((p) => p.key === k)))
      this.redecide(round, late);
  }

  private redecide(round: Round, key: string): void {
    if (round.decision === undefined) return;
    const d = decideIncremental(
      round.decision,
      round.summaries,
      round.synced,
      key,
      round.knownNodes,
      round.q,
      round.gone,
    );
    if (d === 'restart') {
      this.log(`sync ${round.key}: ${key} holds a newer state; deciding the round again`);
      this.startRound(round.members);
    } else if (d !== undefined) this.decide(round, d);
  }

  /** Whether we are one of `d`'s participants (a round closed without silent members may not count us). */
  private participates(d: Decision): boolean {
    const me = this.selfKey();
    return me !== undefined && d.participants.some((p) => p.key === me);
  }

  /** Drop an entry that the participants of the round apply without us (we were left out). */
  private forget(f: Frame): void {
    if (f.incarnation === this.incarnation && f.commandId !== undefined) {
      this.settle(
        f.commandId,
        undefined,
        new OutcomeUnknownError(
          'dispatch: this member was left out of a sync round (stopped or too slow) while the command was in flight; the others may have applied it',
        ),
      );
    }
  }

  private decide(round: Round, d: Decision): void {
    this.cutOff = false;
    round.decision = d;
    round.seq++;
    round.transfer = undefined;
    const tag = `${round.key}#${round.seq}`;
    const me = this.selfKey();
    this.log(
      `sync ${tag}: ${d.mode} quorate=${d.quorate} leader=${d.leader?.key ?? '-'} targets=[${d.targets.join(' ')}] epoch=${d.epoch}`,
    );
    if (d.leader !== undefined && d.mode !== 'bootstrap') round.knownNodes = d.leader.knownNodes;
    round.q = d.replicas;
    round.gone = d.quorate ? [] : (d.leader?.gone ?? []);
    if (!this.participates(d)) {
      // The round was closed without us. Until a decision includes us, the participants'
      // entries are theirs (we get their result as a snapshot once our summary is in), so
      // nothing queued or delivered now is ours to apply. The round's bookkeeping (synced,
      // transfer) still follows the decision, so that our next decisions equal theirs.
      this.syncing = true;
      this.primary = false;
      this.decisionQuorate = false;
      this.replaced = true;
      const dropped = this.queue;
      this.queue = [];
      for (const q of dropped) this.forget(q.frame);
      this.updateStatus();
    }
    switch (d.mode) {
      case 'nostate':
        this.syncing = true;
        this.updateStatus();
        return;
      case 'bootstrap':
        if (this.participates(d)) {
          this.image = this.initialImage(d.epoch);
          this.hasState = true;
          this.dirty = false;
        }
        this.finishSync(round, d);
        return;
      case 'none':
        this.finishSync(round, d);
        return;
      case 'transfer': {
        const targets = new Set(d.targets);
        for (const t of targets) round.synced.delete(t);
        if (me !== undefined && targets.has(me)) {
          this.primary = false;
          this.replaced = true;
        }
        round.transfer = { tag, leader: d.leader!.key, targets, parts: [] };
        this.syncing = true;
        this.updateStatus();
        if (me === undefined || !this.participates(d)) return;
        if (d.leader!.key === me) this.sendSnapshot(tag);
        return;
      }
    }
  }

  private chunkSize(): number {
    return (
      this.options.maxChunkSize ??
      Math.max(1024, Math.min(512 * 1024, this.group.maxMessageSize - 1024))
    );
  }

  private sendSnapshot(tag: string): void {
    const bytes = new TextEncoder().encode(serializeImage(this.image));
    const digest = this.digest();
    const frames = snapshotFrames(bytes, this.chunkSize(), tag, digest, (k, b) => this.frame(k, b));
    this.log(`sending snapshot ${tag}: ${bytes.length} bytes in ${frames.length} chunks`);
    void this.sendFrames(frames);
  }

  private async sendFrames(frames: Uint8Array[]): Promise<void> {
    // one send per chunk: a batch of several chunks could exceed the message limit
    for (const f of frames) {
      if (this.isClosed) return;
      try {
        await this.group.send(f);
      } catch (e) {
        this.log(`snapshot send failed: ${String(e)}`);
        return;
      }
    }
  }

  private onChunk(f: Frame, h: ChunkHeader, bytes: Uint8Array, sender: MemberId): void {
    const round = this.round;
    const t = round?.transfer;
    if (round === undefined || t === undefined) return;
    if (h.tag !== t.tag || memberKey(sender) !== t.leader) return;
    if (this.tracing) this.log(`chunk ${h.i + 1}/${h.n} of ${h.tag}`);
    const me = this.selfKey() ?? '';
    if (t.targets.has(me)) t.parts[h.i] = bytes.slice();
    if (h.i !== h.n - 1) return;
    if (t.targets.has(me)) {
      const assembled = assembleChunks(t.parts, h.n);
      if ('missing' in assembled) {
        // Chunks were lost: only a partition cuts a sender's stream short, so a membership
        // change follows and starts a new round. Never assemble what is there.
        this.log(`snapshot ${t.tag} incomplete (${assembled.got} of ${h.n} chunks): refused`);
        round.transfer = undefined;
        return;
      }
      try {
        const img = parseImage<S>(new TextDecoder().decode(assembled.bytes));
        this.image = img;
        this.hasState = true;
        this.dirty = false;
        this.setCommitted(0n, false);
        const mine = this.digest();
        if (mine !== h.digest) {
          this.reportMismatch(mine, h.digest, sender, f.incarnation);
          this.dirty = true;
        }
      } catch (e) {
        this.log(`snapshot ${t.tag} unusable: ${String(e)}`);
        this.dirty = true;
      }
    }
    this.finishSync(round, round.decision!);
  }

  private finishSync(round: Round, d: Decision): void {
    round.transfer = undefined;
    round.synced = new Set(d.participants.map((p) => p.key));
    if (!this.participates(d)) return;
    this.syncing = false;
    this.decisionQuorate = d.quorate;
    this.primary = d.quorate && this.hasState;
    this.quoratePeers.clear();
    if (this.primary) for (const p of d.participants) this.quoratePeers.set(p.key, p.replica);
    this.image = { ...this.image, epoch: d.epoch };
    if (d.quorate && this.hasState) {
      this.force = false;
      this.settleUnacked();
      if (!sameList(this.image.replicas, d.replicas) || this.image.gone.length > 0) {
        this.image = { ...this.image, replicas: d.replicas, gone: [] };
        this.persistReplicaSet();
      }
      const nodes = this.ring?.nodes ?? [];
      const known = [...new Set([...this.image.knownNodes, ...nodes])].sort((a, b) => a - b);
      if (known.length !== this.image.knownNodes.length)
        this.image = { ...this.image, knownNodes: known };
      round.knownNodes = known.length;
    }
    this.notify({
      kind: 'sync',
      state: this.image.state,
      epoch: this.image.epoch,
      index: this.image.index,
    });
    if (d.quorate && this.hasState) {
      this.reconcileMembers(d);
      // Every participant holds this state now, and they are all of the new `Q`.
      this.qIndex = this.image.index;
      this.proven.clear();
      this.setCommitted(this.image.index, true);
      // An ack of the new epoch proves to the others that we hold the new `Q` (see dropDeparted).
      this.scheduleAck();
    }
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) this.applyEntry(q.frame, q.body, q.sender);
    this.updateStatus();
    this.schedulePersist();
    // A dirty replica asks again for a snapshot only when the round has a clean holder to send
    // it; alone with no clean holder it waits quietly for a membership change to bring one.
    // Right after a snapshot of this round whose digest was not the leader's, it waits for the
    // next digest check instead (asking again at once could repeat the same transfer forever).
    const me = this.selfKey();
    if (
      this.dirty &&
      d.leader !== undefined &&
      !d.leader.dirty &&
      d.leader.key !== me &&
      !(me !== undefined && d.targets.includes(me))
    )
      this.sendSummary();
    this.scheduleCheck(0);
  }

  /** Raise (or, when the state was replaced, reset) `committedIndex`; emits `commit`. */
  private setCommitted(index: bigint, raise: boolean): void {
    if (raise ? index <= this.committed : index === this.committed) return;
    this.committed = index;
    if (raise) this.emit({ type: 'commit', index });
  }

  private reconcileMembers(d: Decision): void {
    const now: Incarnation[] = d.participants.map((p) => ({
      nodeid: p.nodeid,
      pid: p.pid,
      incarnation: p.incarnation,
    }));
    const prev = this.image.state;
    const patches = this.journal === undefined ? undefined : ([] as Patch[]);
    const r = applyMembership(this.image, now, d.epoch, d.time, this.def, patches, this.log);
    if (r === undefined) return;
    if (patches !== undefined) this.journal!.record(prev, r.image.state, patches);
    this.image = r.image;
    this.notify(r.change);
  }

  // ---------------------------------------------------------------- applying

  private applyEntry(f: Frame, b: EntryBody, sender: MemberId): void {
    const mine = f.incarnation === this.incarnation;
    if (f.kind === Kind.tick && mine) this.tickInFlight = false;
    if (!this.decisionQuorate || !this.hasState) {
      // refused, identically on every member of this (non-quorate) component
      if (this.tracing)
        this.log(`refuse ${f.kind} from ${memberKey(sender)} (quorate=${this.decisionQuorate})`);
      if (mine && f.commandId !== undefined)
        this.settle(f.commandId, undefined, new NoQuorumError());
      return;
    }
    if (f.kind === Kind.retire) {
      this.applyRetire(f, b as RetireBody, mine);
      return;
    }
    const body = b as CommandBody; // a tick's body has no `c`
    if (this.tracing)
      this.log(
        `apply ${f.kind === Kind.tick ? 'tick' : traceJson(body.c)} at ${this.image.index + 1n} from ${memberKey(sender)}`,
      );
    const prev = this.image.state;
    const patches = this.journal === undefined ? undefined : ([] as Patch[]);
    if (f.kind === Kind.tick) {
      const r = applyTick(this.image, body.t, this.def, patches, this.log);
      if (patches !== undefined) this.journal!.record(prev, r.image.state, patches);
      this.image = r.image;
      this.notify(r.change);
      if (this.image.replicas.length <= 1) this.setCommitted(this.commitIndex(), true);
      this.scheduleAck();
      this.afterApply();
      return;
    }
    const r = applyCommand(
      this.image,
      {
        command: body.c as C,
        sender: { nodeid: sender.nodeid, pid: sender.pid, incarnation: f.incarnation },
        commandId: f.commandId ?? '',
        t: body.t,
      },
      this.def,
      patches,
    );
    if (patches !== undefined && r.outcome.ok) this.journal!.record(prev, r.image.state, patches);
    this.image = r.image;
    const index = r.image.index;
    this.notify(r.change);
    if (this.image.replicas.length <= 1) this.setCommitted(this.commitIndex(), true);
    if (mine && f.commandId !== undefined) {
      const o = r.outcome;
      if (!o.ok) {
        // nothing changed: the failure needs no majority to be true
        this.settle(f.commandId, undefined, new CommandFailedError(o.message, o.name));
      } else if (!this.ackMajority || index <= this.commitIndex()) {
        this.settle(f.commandId, o.result, undefined);
      } else {
        this.unacked.push({ index, id: f.commandId, result: o.result });
      }
    }
    this.scheduleAck();
    this.afterApply();
  }

  // ---------------------------------------------------------------- majority acknowledgement

  /** Replicas of `Q` announce what they applied, at most once per turn of the event loop. */
  private scheduleAck(): void {
    if (this.ackScheduled || this.passive || !this.image.replicas.includes(this.replica)) return;
    this.ackScheduled = true;
    queueMicrotask(() => {
      this.ackScheduled = false;
      if (this.isClosed || this.syncing || !this.decisionQuorate) return;
      this.sendQuiet(
        this.frame(Kind.ack, jsonBody({ i: this.image.index.toString(), r: this.replica })),
      );
    });
  }

  private onAck(f: Frame, b: AckBody): void {
    if (this.syncing || this.round?.decision === undefined || !this.decisionQuorate) return;
    // an ack of another epoch was sent before the sender finished this lineage's last round
    if (f.epoch !== this.image.epoch) return;
    const i = b.i;
    if (i >= this.qIndex) this.proven.add(b.r);
    if (i <= (this.progress.get(b.r) ?? 0n)) return;
    this.progress.set(b.r, i);
    const commit = this.commitIndex();
    this.setCommitted(commit, true);
    if (this.unacked.length === 0) return;
    while (this.unacked.length > 0 && this.unacked[0]!.index <= commit) {
      const u = this.unacked.shift()!;
      this.settle(u.id, u.result, undefined);
    }
  }

  /** The highest index that a strict majority of `Q` applied, as far as we heard this round. */
  private commitIndex(): bigint {
    return commitIndex(this.image.replicas, this.replica, this.image.index, this.progress);
  }

  /**
   * A quorate round finished with us in it: every member of the new `Q` holds the round's
   * state. If that is still our own (no snapshot replaced it since our commands were applied),
   * it holds them; otherwise we cannot tell.
   */
  private settleUnacked(): void {
    const waiting = this.unacked;
    this.unacked = [];
    for (const u of waiting) {
      if (this.replaced)
        this.settle(
          u.id,
          undefined,
          new OutcomeUnknownError(
            "dispatch: the command was applied here, but a membership change replaced this replica's state before a majority confirmed it; read the state before retrying a command that is not idempotent",
          ),
        );
      else this.settle(u.id, u.result, undefined);
    }
    this.replaced = false;
  }

  /**
   * A member retires from `Q` (it is closing gracefully). Identical on every member: the same
   * entry at the same point of a quorate component's stream. `Q` never becomes empty. The
   * index does not move (no user-visible change), but the digest covers `Q`.
   */
  private applyRetire(f: Frame, b: RetireBody, mine: boolean): void {
    const r = b.r;
    const q = this.image.replicas;
    if (q.includes(r) && q.length > 1) {
      // A change of `Q` moves the index, so that a state with the newer `Q` always leads a
      // round over one with the older `Q` (sync.ts picks the highest (epoch, index)).
      const index = this.image.index + 1n;
      this.image = {
        ...this.image,
        index,
        replicas: q.filter((x) => x !== r),
        gone: this.image.gone.filter((x) => x !== r),
      };
      this.qIndex = index;
      this.proven.clear();
      this.log(`replica ${r} retired; Q has ${q.length - 1}`);
      this.persistReplicaSet();
      this.scheduleAck();
    }
    if (mine && f.commandId !== undefined) this.settle(f.commandId, undefined, undefined);
  }

  /**
   * A replica of `Q` whose process is gone for good (reason `procdown`: it died while its node
   * stayed in the ring; or `leave`) is recorded in `gone` at the confchg that announces it, if
   * it proved that it holds the current `Q`: its ack of this round, of this epoch, reaches the
   * index at which `Q` last changed (`qIndex`). Never for `nodedown`: a node cut off by a
   * partition looks the same as a crashed one, and may go on in another component.
   *
   * `gone` lets a component that holds exactly half of `Q` stay quorate when the other half
   * is gone (sync.ts, `holdsMajority`): those replicas come back with this `Q`, and can then
   * never be a majority of it without one of the present half, whose state is newer. So two
   * replicas of three survive the death of one, and the last of two survives the death of
   * the other; a replica that died without proving it holds the current `Q` (two processes
   * killed at once: the second is still listed when the first one's confchg comes, and never
   * acks the round that follows) counts as a live member of another component.
   *
   * Only where the state is the quorate component's (`primary`: synced by the last round we
   * finished, which was quorate, and the current round, if decided, is quorate too) and the
   * departed member took part in that round and stayed in every view since (`quoratePeers`).
   * The confchg and the acks are points of the agreed stream, and every member of that lineage
   * holds the same image, `primary`, decision and peers there, so all record the same replicas.
   * `gone` is part of the replicated image (its digest covers it) and is cleared by every
   * quorate round.
   */
  private dropDeparted(e: MembershipEvent): void {
    const peers = this.quoratePeers;
    if (peers.size === 0) return;
    const now = new Set(e.members.map(memberKey));
    const gone: string[] = [];
    for (const [k, r] of peers) {
      if (now.has(k)) continue;
      peers.delete(k);
      const reason = e.left.find((l) => memberKey(l) === k)?.reason;
      const proven = this.proven.has(r);
      if (this.inQuorateLineage() && proven && (reason === 'procdown' || reason === 'leave'))
        gone.push(r);
    }
    if (gone.length === 0) return;
    const staying = new Set(peers.values());
    const q = this.image.replicas;
    const add = gone.filter(
      (r) => !staying.has(r) && q.includes(r) && !this.image.gone.includes(r),
    );
    if (add.length === 0) return;
    this.log(`departed replicas ${add.join(' ')} proved they hold Q: recorded as gone`);
    this.image = { ...this.image, gone: [...this.image.gone, ...add].sort() };
  }

  /** Our state is the quorate component's: the last round we finished, and the current one if decided, were quorate. */
  private inQuorateLineage(): boolean {
    const d = this.round?.decision;
    return this.primary && this.hasState && !this.dirty && (d === undefined || d.quorate);
  }

  /**
   * At a confchg where members left, a member of the quorate lineage that keeps a majority of
   * `Q` among its peers moves its epoch up, before the round's summaries. At a partition, CPG
   * may deliver a message in flight on its sender's side only, so every side can apply entries
   * that the others never see, at the same epoch. A side that applied an entry that a majority
   * of `Q` acknowledged is the side that holds that majority: its members (and only they)
   * bump the epoch here, so their state leads every later round over any other side's, whatever
   * the indexes (sync.ts picks the highest (epoch, index)).
   */
  private bumpEpochIfMajority(e: MembershipEvent): void {
    if (e.left.length === 0 || this.cutOff || !this.inQuorateLineage()) return;
    const staying = [this.replica, ...this.quoratePeers.values()];
    if (!holdsMajority(staying, this.image.replicas, this.image.gone)) return;
    this.image = { ...this.image, epoch: this.image.epoch + 1 };
    this.persistReplicaSet();
  }

  private settle(id: string, result: unknown, error: Error | undefined): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    if (error === undefined) p.d.resolve(result);
    else p.d.reject(error);
  }

  private afterApply(): void {
    this.schedulePersist();
    this.scheduleTick();
  }

  // ---------------------------------------------------------------- replicated time

  private executorKey(): string | undefined {
    const parts = this.round?.decision?.participants ?? [];
    const active = parts.filter((p) => !p.passive);
    return (active[0] ?? parts[0])?.key;
  }

  private scheduleTick(): void {
    this.tickTimer?.cancel();
    this.tickTimer = undefined;
    if (this.def.nextDeadline === undefined || this.tickInFlight || !this.isExecutor) return;
    const deadline = this.def.nextDeadline(this.image.state);
    if (deadline === undefined) return;
    const delay = deadline - this.clock.wallNow();
    this.tickTimer = this.clock.setTimeout(
      () => {
        this.tickTimer = undefined;
        if (!this.isExecutor || this.tickInFlight || this.isClosed) return;
        this.tickInFlight = true;
        const t = Math.max(this.clock.wallNow(), deadline);
        this.sendQuiet(this.frame(Kind.tick, jsonBody({ t })), () => {
          this.tickInFlight = false;
        });
      },
      Math.max(0, delay),
    );
  }

  // ---------------------------------------------------------------- checksums

  private scheduleCheck(delay: number): void {
    this.checkTimer?.cancel();
    this.checkTimer = undefined;
    if (this.isClosed) return;
    this.checkTimer = this.clock.setTimeout(() => {
      this.checkTimer = undefined;
      if (this.executorKey() === this.selfKey() && !this.syncing && this.hasState) {
        const id = `${this.incarnation}:${++this.checkCounter}`;
        this.sendQuiet(this.frame(Kind.check, jsonBody({ id })));
      }
      if (this.checkInterval > 0) this.scheduleCheck(this.checkInterval);
    }, delay);
  }

  private onCheck(b: CheckBody): void {
    const round = this.round;
    if (round?.decision === undefined || this.syncing || !this.hasState) return;
    const mine = this.digest();
    this.checks.set(b.id, {
      expected: round.decision.participants.map((p) => p.key),
      mine,
      index: this.image.index,
      got: new Map(),
    });
    this.sendQuiet(
      this.frame(Kind.digest, jsonBody({ id: b.id, digest: mine, index: this.image.index })),
    );
  }

  private onDigest(f: Frame, b: DigestBody, sender: MemberId): void {
    const c = this.checks.get(b.id);
    if (c === undefined) return;
    c.got.set(memberKey(sender), b.digest);
    const tally = tallyDigests(c);
    if (tally === undefined) return;
    this.checks.delete(b.id);
    const best = tally.digest;
    if (best !== c.mine) {
      const from = this.round?.decision?.participants.find((p) => p.key === tally.from);
      this.reportMismatch(
        c.mine,
        best,
        from ?? sender,
        from?.incarnation ?? f.incarnation,
        c.index,
      );
      this.dirty = true;
      this.sendSummary();
    }
  }

  private reportMismatch(
    local: string,
    remote: string,
    from: MemberId,
    incarnation: string,
    index?: bigint,
  ): void {
    this.log(
      `digest mismatch at index ${index ?? this.image.index}: local ${local} remote ${remote}; resyncing`,
    );
    this.emit({
      type: 'mismatch',
      epoch: this.image.epoch,
      index: index ?? this.image.index,
      local,
      remote,
      from: { nodeid: from.nodeid, pid: from.pid, incarnation },
    });
  }

  // ---------------------------------------------------------------- persistence

  private schedulePersist(): void {
    if (
      this.store === undefined ||
      this.persistTimer !== undefined ||
      this.isClosed ||
      !this.hasState
    )
      return;
    this.persistTimer = this.clock.setTimeout(() => {
      this.persistTimer = undefined;
      this.persistNow().catch(() => undefined);
    }, this.persistDelay);
  }

  /**
   * Q changed: write it now rather than within `persistDelay`. A replica whose disk still holds
   * an older, larger Q could otherwise restart together with replicas that were cut off before
   * the change and count as a majority of that stale Q (see the README, Durability). This
   * narrows that window to one write; it does not hold the round until the write is done.
   */
  private persistReplicaSet(): void {
    if (this.store === undefined || this.isClosed || !this.hasState) return;
    this.persistTimer?.cancel();
    this.persistTimer = undefined;
    this.persistNow().catch(() => undefined);
  }

  /**
   * Queue a write of the image as it is when the queue gets to it (a log record of what
   * changed, or a snapshot: see journal.ts). Rejects when that write fails (also logged).
   */
  private persistNow(): Promise<void> {
    const journal = this.journal!;
    const step = this.persisting.then(() => journal.write(this.image));
    this.persisting = step.catch((e: unknown) => this.log(`persist failed: ${String(e)}`));
    return step;
  }

  /** Wait until the latest state is on disk (when persisting). */
  async flush(): Promise<void> {
    if (this.store === undefined || !this.hasState) return;
    this.persistTimer?.cancel();
    this.persistTimer = undefined;
    await this.persistNow();
  }

  // ---------------------------------------------------------------- helpers

  private initialImage(epoch: number): Image<S> {
    const init = this.def.initial;
    const state = typeof init === 'function' ? (init as () => S)() : structuredClone(init);
    return {
      epoch,
      index: 0n,
      time: 0,
      members: [],
      knownNodes: [],
      replicas: [],
      gone: [],
      state: freeze(state, true),
    };
  }

  private frame(kind: KindValue, body: Uint8Array, commandId?: string): Uint8Array {
    return encodeFrame({
      kind,
      incarnation: this.incarnation,
      commandId,
      epoch: this.image.epoch,
      nameBytes: this.nameBytes,
      body,
    });
  }

  private sendQuiet(frame: Uint8Array, onError?: () => void): void {
    if (this.isClosed) return;
    this.group.send(frame).catch((e: unknown) => {
      this.log(`send failed: ${String(e)}`);
      onError?.();
    });
  }
}

/** A command for a trace line: never throws (a body is bounded, but a trace must not kill us). */
function traceJson(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    );
    return text === undefined ? String(text) : text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch (e) {
    return `<${String(e)}>`;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
