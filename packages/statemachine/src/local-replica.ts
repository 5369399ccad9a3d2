/**
 * The local replica: what the machine's modules share (the image, the phase and the quorum
 * record, the current round, the waiting dispatches, the journal) and the effects they all
 * use (send, emit, notify, settle, persist). Each concern that changes it lives in its own
 * module: sync-round.ts (rounds), entry-stream.ts (applying), acknowledgement.ts (acks),
 * replica-set.ts (`Q`), timekeeper.ts (ticks and digest checks); machine.ts is the facade.
 * @module
 */
import { freeze } from 'immer';
import { v7 as uuidv7 } from 'uuid';
import {
  deferred,
  withWait,
  type Clock,
  type Deferred,
  type GroupTransport,
  type MemberId,
  type TimerHandle,
  type WaitOptions,
} from '@cpgkit/core';
import { MachineClosedError } from './errors.js';
import type { Incarnation, MachineDefinition, MachineStatus } from './types.js';
import { encodeFrame, encodeJsonFrame, encodeName, type Frame, type KindValue } from './wire.js';
import { wireNameOf } from './machine-name.js';
import type { CommandBody, RetireBody, TickBody } from './wire.js';
import { memberKey, type Decision, type Summary } from './sync.js';
import { imageDigest, type Image, type ReplicaLineage } from './image.js';
import { warmDigest } from './canonical.js';
import { inlineWork, sliceTimeOf, type SliceTime } from './slices.js';
import type { Journal } from './journal.js';
import { MachineEvents } from './machine-events.js';
import type { Transfer } from './snapshot-transfer.js';
import { CLOSED, SYNCING, isSynced, phaseOf, type Phase, type Quorum } from './phase.js';

/** A `MachineClosedError` option: refused before anything was sent. */
export const NOT_SENT = { outcome: 'not-applied' } as const;

/** One sync round: from a membership (or ring) change to the next. */
export interface Round {
  readonly key: string;
  readonly members: readonly MemberId[];
  readonly summaries: Map<string, Summary>;
  decision: Decision | undefined;
  /** The latest decision included us and its sync is done: entries are applied, not queued. */
  done: boolean;
  seq: number;
  synced: Set<string>;
  knownNodes: number;
  /** The component's replica set `Q` as of the latest decision. */
  q: readonly string[];
  /** The component's departed replicas of `Q` (`Image.gone`) as of the latest decision. */
  gone: readonly string[];
  /** The component's last proven `Q` and its `gone` as of the latest decision. */
  proven: ReplicaLineage;
  transfer: Transfer | undefined;
  closeTimer: TimerHandle | undefined;
}

/** The body of an entry of the agreed stream (`command`, `tick`, `retire`), validated. */
export type EntryBody = CommandBody | TickBody | RetireBody;

/** What a replica is built from. */
export interface ReplicaOptions<S> {
  readonly passive: boolean;
  readonly log: ((line: string) => void) | undefined;
  /** Builds the journal (with a data directory) once the replica can give it its image. */
  readonly journal: ((current: () => Image<S>) => Journal<S>) | undefined;
}

/** The shared state and effects of one member's replica (see the module comment). */
export class LocalReplica<S, C, R> {
  /** Our incarnation uuid (v7). */
  readonly incarnation: string = uuidv7();
  readonly clock: Clock;
  /** What bounds this replica's slices of background work (slices.ts). */
  readonly sliceTime: SliceTime;
  readonly passive: boolean;
  readonly log: (line: string) => void;
  /** A `log` was given: trace every message (costly lines are built only then). */
  readonly tracing: boolean;
  readonly events: MachineEvents<S, C, R>;
  readonly journal: Journal<S> | undefined;
  image: Image<S>;
  /** This member holds a state (synced once, or restored from disk). */
  hasState = false;
  /** The state failed a digest check or a snapshot: it asks for a snapshot, never leads. */
  dirty = false;
  phase: Phase = SYNCING;
  readonly quorum: Quorum = { local: false, viewRing: undefined, decided: false, cutOff: false };
  /** This member's replica id (see `ReplicatedStateMachine.replicaId`). */
  replica: string;
  round: Round | undefined;
  ring: { id: string; seq: bigint; nodes: readonly number[] } | undefined;
  selfId: MemberId | undefined;
  /** Our dispatches (and retire) waiting for their outcome, by command id. */
  readonly pending = new Map<string, Deferred<unknown>>();
  foreignCount = 0;
  /** Set by the machine: what follows every phase update (the timekeeper plans its tick). */
  afterUpdate: () => void = () => undefined;
  /** Set by the machine: send this round's summary again (the state turned dirty). */
  resync: () => void = () => undefined;
  /** The machine name our frames carry and we accept (`wireNameOf`). */
  readonly wireName: string;
  private readonly nameBytes: Uint8Array;
  private readonly readyWaiters = new Set<Deferred<void>>();
  private readonly syncWaiters = new Set<Deferred<void>>();
  private digestCache: { image: Image<S>; digest: string } | undefined;
  /** The status the last `status` event said. */
  private announced: MachineStatus = 'syncing';

  constructor(
    readonly group: GroupTransport,
    readonly def: MachineDefinition<S, C, R>,
    options: ReplicaOptions<S>,
  ) {
    this.clock = group.clock;
    this.sliceTime = sliceTimeOf(group.clock);
    this.passive = options.passive;
    this.log = options.log ?? (() => undefined);
    this.tracing = options.log !== undefined;
    this.events = new MachineEvents();
    this.wireName = wireNameOf(def);
    this.nameBytes = encodeName(this.wireName);
    this.replica = this.incarnation;
    this.image = this.initialImage(0);
    this.journal = options.journal?.(() => this.image);
  }

  get closed(): boolean {
    return this.phase.kind === 'closed';
  }

  /** The current round is done for us and we hold a state (quorate or not). */
  get synced(): boolean {
    return this.round?.done === true && this.hasState;
  }

  /** Our member key, once joined. */
  selfKey(): string | undefined {
    if (this.selfId === undefined) {
      try {
        this.selfId = this.group.self;
      } catch {
        return undefined;
      }
    }
    return memberKey(this.selfId);
  }

  /** Whether we are one of `d`'s participants (a round closed without silent members may not count us). */
  participates(d: Decision): boolean {
    const me = this.selfKey();
    return me !== undefined && d.participants.some((p) => p.key === me);
  }

  /** The elected executor: the lowest non-passive participant of the current decision. */
  executorKey(): string | undefined {
    const parts = this.round?.decision?.participants ?? [];
    const active = parts.filter((p) => !p.passive);
    return (active[0] ?? parts[0])?.key;
  }

  /** A digest of the replicated image (hex sha256), computed once per image. */
  digest(): string {
    const img = this.image;
    const c = this.digestCache;
    if (c !== undefined && c.image === img) return c.digest;
    // an image whose digested fields are those of the cached one (only the epoch, `settled` or
    // the last proven `Q` moved)
    if (
      c !== undefined &&
      c.image.state === img.state &&
      c.image.index === img.index &&
      c.image.members === img.members &&
      c.image.knownNodes === img.knownNodes &&
      c.image.replicas === img.replicas &&
      c.image.gone === img.gone
    ) {
      this.digestCache = { image: img, digest: c.digest };
      return c.digest;
    }
    const digest = imageDigest(img);
    this.digestCache = { image: img, digest };
    return digest;
  }

  /**
   * Whether `digest()` is cheap now: computed already, or the state's large parts are cached
   * (see `warmDigest`). Otherwise fills the cache for at most `budgetMs` and answers false: a
   * state changed in many places since its last digest (a fill of 100,000 keys) costs about a
   * second of CPU to digest, which the caller spreads over several turns of the event loop.
   * @param inline - called in the turn of an event, not in a slice of its own: the budget is
   *   the turn's, shared with the other replicas on our slice time (`inlineWork`)
   */
  digestWarm(budgetMs: number, inline = false): boolean {
    if (this.digestCache?.image === this.image) return true;
    const state = this.image.state;
    if (inline)
      return inlineWork(this.sliceTime, budgetMs, (deadline) =>
        warmDigest(state, deadline, this.sliceTime),
      );
    return warmDigest(state, this.sliceTime() + budgetMs, this.sliceTime);
  }

  /** A frame of ours (our incarnation, our epoch). */
  frame(kind: KindValue, body: Uint8Array, commandId?: string): Uint8Array {
    return encodeFrame({
      kind,
      incarnation: this.incarnation,
      commandId,
      epoch: this.image.epoch,
      nameBytes: this.nameBytes,
      body,
    });
  }

  /** A frame of ours whose body is the JSON of `value` (`encodeJsonFrame`). */
  jsonFrame(kind: KindValue, value: unknown, commandId?: string): Uint8Array {
    return encodeJsonFrame(
      {
        kind,
        incarnation: this.incarnation,
        commandId,
        epoch: this.image.epoch,
        nameBytes: this.nameBytes,
      },
      value,
    );
  }

  /** Send without waiting; a failure is logged (and `onError` called). */
  sendQuiet(frame: Uint8Array, onError?: () => void): void {
    if (this.closed) return;
    this.group.send(frame).catch((e: unknown) => {
      this.log(`send failed: ${String(e)}`);
      onError?.();
    });
  }

  /** Resolve or reject our waiting dispatch `id`, if it still waits. */
  settle(id: string, result: unknown, error: Error | undefined): void {
    const d = this.pending.get(id);
    if (d === undefined) return;
    this.pending.delete(id);
    if (error === undefined) d.resolve(result);
    else d.reject(error);
  }

  /** Settle our own entry `f` (when it is ours and carries an id). */
  settleOwn(f: Frame, result: unknown, error: Error | undefined): void {
    if (f.incarnation === this.incarnation && f.commandId !== undefined)
      this.settle(f.commandId, result, error);
  }

  /**
   * Recompute the phase after any of its inputs changed (the round's `done`, `quorum`,
   * `hasState`), so that reads in between (a subscriber asking `isExecutor`) see it. The
   * `status` event waits for `update`.
   */
  refresh(): void {
    if (!this.closed) this.phase = phaseOf(this.synced, this.quorum);
  }

  /** `refresh`, then emit `status` if it changed since the last `update`, wake the waiters. */
  update(): void {
    if (this.closed) return;
    this.refresh();
    if (this.phase.kind !== this.announced) {
      this.announced = this.phase.kind;
      this.events.emit({ type: 'status', status: this.phase.kind });
      if (this.tracing) this.log(`status ${this.phase.kind}`);
    }
    if (this.phase.kind === 'ready') {
      for (const d of this.readyWaiters) d.resolve();
      this.readyWaiters.clear();
    }
    if (isSynced(this.phase)) {
      for (const d of this.syncWaiters) d.resolve();
      this.syncWaiters.clear();
    }
    this.afterUpdate();
  }

  /** Resolves once `status` is `ready`. */
  whenReady(options?: WaitOptions): Promise<void> {
    if (this.closed)
      return Promise.reject(new MachineClosedError('the state machine is closed', NOT_SENT));
    if (this.phase.kind === 'ready') return Promise.resolve();
    const d = deferred<void>();
    this.readyWaiters.add(d);
    return withWait(d.promise, this.clock, options, 'ready', () => this.readyWaiters.delete(d));
  }

  /** Resolves once we hold a synced state. */
  whenSynced(options?: WaitOptions): Promise<void> {
    if (this.closed)
      return Promise.reject(new MachineClosedError('the state machine is closed', NOT_SENT));
    if (isSynced(this.phase)) return Promise.resolve();
    const d = deferred<void>();
    this.syncWaiters.add(d);
    return withWait(d.promise, this.clock, options, 'sync', () => this.syncWaiters.delete(d));
  }

  /** Turn `closed`: reject everything that waits, emit `status` and `closed`. */
  close(error: Error | undefined): void {
    this.phase = CLOSED;
    this.announced = 'closed';
    const err = new MachineClosedError(
      'the state machine is closed',
      error === undefined ? {} : { cause: error },
    );
    for (const d of this.pending.values()) d.reject(err);
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
    this.events.emit({ type: 'status', status: 'closed' });
    this.events.emit(error === undefined ? { type: 'closed' } : { type: 'closed', error });
  }

  /** Write what changed within the journal's delay (when persisting and holding a state). */
  persistSoon(): void {
    if (this.journal === undefined || this.closed || !this.hasState) return;
    this.journal.soon();
  }

  /**
   * `Q` (or the epoch) changed: write it now rather than within the delay. A replica whose
   * disk still holds an older, larger Q could otherwise restart together with replicas that
   * were cut off before the change and count as a majority of that stale Q (see the README,
   * Durability). The round goes on meanwhile; our acks, which prove the new epoch and `Q` to
   * the others, wait for this write (proof-gate.ts).
   */
  persistReplicaSet(): void {
    if (this.journal === undefined || this.closed || !this.hasState) return;
    this.journal.now().catch(() => undefined);
  }

  /** The state is not to be trusted: mark it dirty and ask this round for a snapshot. */
  markDirty(): void {
    this.dirty = true;
    this.resync();
  }

  /** Log and emit a digest mismatch. */
  reportMismatch(
    local: string,
    remote: string,
    from: MemberId,
    incarnation: string,
    index?: bigint,
  ): void {
    const at = index ?? this.image.index;
    this.log(`digest mismatch at index ${at}: local ${local} remote ${remote}; resyncing`);
    const who: Incarnation = { nodeid: from.nodeid, pid: from.pid, incarnation };
    this.events.emit({
      type: 'mismatch',
      epoch: this.image.epoch,
      index: at,
      local,
      remote,
      from: who,
    });
  }

  /** The definition's initial state at index 0. */
  initialImage(epoch: number): Image<S> {
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
      settled: 0,
      provenReplicas: [],
      provenGone: [],
      state: freeze(state, true),
    };
  }
}
