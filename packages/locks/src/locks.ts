/**
 * `Locks`: the client of the lock machine. Handles (`Lock`, `Leadership`) over a
 * `StateMachine` whose definition is `locksMachine()`.
 *
 * Past 500 lines for now: requests, hand-outs (committed grants only), the reaper of abandoned
 * requests and the election observers all read and change the same waiter and holder maps.
 * The next split is a private `LockClient` object for the handles (which also lets the
 * package strip `@internal` from its types) and the hand-out rule in a file of its own.
 * @module
 */
import { v7 as uuidv7 } from 'uuid';
import {
  InterruptedError,
  PushIterator,
  type GroupTransport,
  type WaitOptions,
} from '@cpgkit/core';
import {
  CommandFailedError,
  MachineClosedError,
  NoQuorumError,
  ReplicatedStateMachine,
  roleOptions,
  type OpenOptions,
  type Role,
  type StateChange,
  type StateMachine,
} from '@cpgkit/statemachine';
import type {
  AcquireResult,
  LocksCommand,
  LocksResult,
  ProclaimResult,
  RenewResult,
} from './commands.js';
import { raceSignal, waitSignal } from './abort.js';
import { AlreadyHeldError, type LossReason } from './errors.js';
import { Leadership, type LeadershipOwner } from './leadership.js';
import { Lock, type LockOwner } from './lock.js';
import { locksMachine, type LocksMachineOptions } from './machine.js';
import { ReadWriteLock } from './rwlock.js';
import { Semaphore } from './semaphore.js';
import type { AcquireOptions, LockSpec } from './types.js';
import { withHandle } from './with-handle.js';
import type { Json, LocksState, Owner } from './state.js';

/** A `StateMachine` running `locksMachine()`. */
export type LocksStateMachine = StateMachine<LocksState, LocksCommand, LocksResult>;

/** Options of `campaign`. */
export interface CampaignOptions extends WaitOptions {
  /** What the leader announces to observers (JSON). @defaultValue `null` */
  readonly value?: Json;
}

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

/** Options of `new Locks`. */
export interface LocksOptions {
  /** Close the state machine when the client closes. @defaultValue `false` */
  readonly closeMachine?: boolean;
}

/** Options of `Locks.open`: the state machine's and the lock machine's, and the role. */
export interface LocksOpenOptions extends OpenOptions, LocksMachineOptions {
  /**
   * `'replica'` (holds the lock state: a long-lived service) or `'client'` (a passive member
   * of the replicas, e.g. of `cpgkit serve`: what it holds is its own, the state is theirs).
   * See `Role` in `@cpgkit/statemachine`. @defaultValue `'replica'` (unless `passive: true`)
   */
  readonly role?: Role;
}

interface Waiter {
  readonly id: string;
  readonly name: string;
  readonly spec: LockSpec | undefined; // undefined: an election
  /** The request was applied (dispatch came back): absence from the state now means dropped. */
  confirmed: boolean;
  /**
   * The grant as first seen in the local state (its token or term) and the index then. It is
   * handed out only once `committedIndex` reaches that index: a grant that only this side of
   * a partition applied is never handed out.
   */
  seen: { readonly grant: string; readonly index: bigint } | undefined;
  /** `'dropped'`: the state no longer lists the request; `'minority'`: this member lost quorum. */
  readonly resolve: (out: Lock | Leadership | 'dropped' | 'minority') => void;
}

interface Abandoned {
  readonly name: string;
  readonly election: boolean;
  readonly since: number;
}

/** How long (ms) an abandoned request id is remembered, to release it if it is granted after all. */
const ABANDON_KEEP = 10 * 60_000;

/**
 * Fenced locks, semaphores, read-write locks and leader election over a replicated state
 * machine. Use one `Locks` per `StateMachine` (it releases what its own incarnation holds and
 * no longer wants).
 *
 * @example
 * ```ts
 * const machine = await ReplicatedStateMachine.open(group, locksMachine());
 * await using locks = new Locks(machine, { closeMachine: true });
 * await locks.withLock('report', async (signal) => {
 *   await writeReport({ signal });
 * });
 * ```
 */
export class Locks implements AsyncDisposable, LockOwner, LeadershipOwner {
  /** The state machine underneath. */
  readonly machine: LocksStateMachine;
  readonly #held = new Map<string, Lock | Leadership>();
  readonly #waits = new Map<string, Waiter>();
  readonly #abandoned = new Map<string, Abandoned>();
  readonly #inflight = new Set<string>();
  readonly #unsubscribe: (() => void)[];
  readonly #closeMachine: boolean;
  #closed = false;
  #settleScheduled = false;
  /** The elections as last seen, and the index at which each one last changed. */
  #elections: LocksState['elections'] | undefined;
  readonly #electionAt = new Map<string, bigint>();

  constructor(machine: LocksStateMachine, options: LocksOptions = {}) {
    this.machine = machine;
    this.#closeMachine = options.closeMachine ?? false;
    this.#unsubscribe = [
      machine.subscribe((change) => this.#onChange(change)),
      machine.on('quorum', (e) => {
        // react to our own quorum view at once, before the agreed stream says anything
        if (!e.quorate) {
          this.#loseAll('quorum-lost', 'this member lost quorum');
          this.#failWaits();
        }
      }),
      machine.on('status', (e) => {
        if (e.status === 'minority') {
          this.#loseAll('quorum-lost', 'this member is in a minority');
          this.#failWaits();
        } else if (e.status === 'closed') this.#onClosed();
        else if (e.status === 'ready') this.#settleSoon();
      }),
      // a grant seen in the state is handed out once a majority of Q holds it
      machine.on('commit', () => this.#settleSoon()),
      machine.on('closed', () => this.#onClosed()),
    ];
  }

  /**
   * Open the lock machine on `group` (an unjoined transport) and a client over it; closing
   * the client closes the machine. Resolves once joined: requests wait for sync themselves.
   *
   * @example
   * ```ts
   * await using locks = await Locks.open(new Group(corosync()), { groupName: 'locks' });
   * ```
   */
  static async open(group: GroupTransport, options: LocksOpenOptions = {}): Promise<Locks> {
    const machine = await ReplicatedStateMachine.open(
      group,
      locksMachine(options),
      roleOptions(options),
    );
    return new Locks(machine, { closeMachine: true });
  }

  /** The clock of the state machine (virtual on the in-memory cluster). */
  get clock() {
    return this.machine.clock;
  }

  /**
   * Acquire the mutex `name`: wait (FIFO) until the group grants it.
   *
   * Rejects at once with `AlreadyHeldError` when this `Locks` already holds or waits for `name`
   * (locks are not reentrant), and with `NoQuorumError` when this member is in a minority, or
   * as soon as it falls into one while waiting (the same rule as every write: nothing waits
   * silently for quorum; both are `'not-applied'`, see `isNotApplied`). While the machine is
   * syncing (just opened, or a membership change) the request waits for the sync. Otherwise
   * rejects with `TimeoutError`, the signal's reason, `MachineClosedError`, or a
   * `CommandFailedError` (e.g. the name is in use as a semaphore). A request given up is
   * withdrawn through the group; if the grant won the race, the withdrawal releases it.
   */
  acquire(name: string, options: AcquireOptions = {}): Promise<Lock> {
    return this.request(name, { kind: 'mutex', mode: 'exclusive' }, options, true) as Promise<Lock>;
  }

  /**
   * The mutex `name` if the group grants it at once (nobody holds or waits), else `null`. Leaves
   * no waiter behind. Rejects like `acquire` (`AlreadyHeldError`, `NoQuorumError`...).
   */
  tryAcquire(name: string, options: Omit<AcquireOptions, 'timeout'> = {}): Promise<Lock | null> {
    return this.request(name, { kind: 'mutex', mode: 'exclusive' }, options, false);
  }

  /**
   * Run `fn` holding the mutex `name`; release when it returns or throws. `fn` gets the
   * lock's signal (aborts when the lock is lost) and the lock (for its token).
   */
  withLock<T>(
    name: string,
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options: AcquireOptions = {},
  ): Promise<T> {
    return withHandle(this.acquire(name, options), fn);
  }

  /** The counting semaphore `name` with `permits` permits (every user must agree on `permits`). */
  semaphore(name: string, permits: number): Semaphore {
    return new Semaphore(name, permits, (spec, options, wait) =>
      this.request(name, spec, options, wait),
    );
  }

  /** The read-write lock `name`: many readers or one writer; a waiting writer blocks later readers. */
  rwlock(name: string): ReadWriteLock {
    return new ReadWriteLock(name, (spec, options, wait) =>
      this.request(name, spec, options, wait),
    );
  }

  /**
   * Stand for leadership of `name`; resolves once elected (candidates are elected in the
   * order the group agreed on their campaigns). Rejects like `acquire`: `AlreadyHeldError` when
   * this `Locks` already leads or campaigns for `name`, `NoQuorumError` in a minority; a
   * campaign given up is withdrawn through the group.
   */
  async campaign(name: string, options: CampaignOptions = {}): Promise<Leadership> {
    const value = options.value ?? null;
    const out = await this.#request(name, undefined, options, true, (id) => ({
      type: 'campaign',
      id,
      name,
      value,
    }));
    return out as Leadership;
  }

  /** Who leads `name` now, as this replica sees it. */
  leader(name: string): LeaderInfo {
    const m = this.machine;
    const e = m.state.elections[name];
    const info = {
      name,
      leader: e?.leader?.owner ?? null,
      term: BigInt(e?.term ?? '0'),
      value: e?.leader?.value ?? null,
      // a change of this election that a majority of Q does not hold yet may be rolled back
      stale: m.stale || m.committedIndex < (this.#electionAt.get(name) ?? 0n),
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
    const closed = (): boolean => this.#closed || this.machine.status === 'closed';
    const push = (): void => {
      const info = changed();
      if (info !== undefined) it.push(info);
      if (closed()) it.end(); // also when closing changed nothing a reader would see
    };
    const offs = [
      this.machine.subscribe(push),
      this.machine.on('status', push),
      this.machine.on('commit', push),
    ];
    const it: PushIterator<LeaderInfo> = new PushIterator({
      initial: [changed()!],
      signal: options.signal,
      onEnd: () => {
        for (const off of offs) off();
      },
    });
    if (closed()) it.end();
    yield* it;
  }

  /** Handles this client holds now (locks and leaderships). */
  get held(): readonly (Lock | Leadership)[] {
    return [...this.#held.values()];
  }

  /**
   * Release every held lock and leadership (best effort), give up every wait, stop listening,
   * and close the machine if `closeMachine`. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waits.values()) w.resolve('dropped');
    const releases = [...this.#held.values()].map((h) =>
      (h instanceof Lock ? h.release() : h.resign()).catch(() => undefined),
    );
    await Promise.all(releases);
    for (const off of this.#unsubscribe) off();
    if (this.#closeMachine) await this.machine.close();
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- requests

  /** @internal Used by `Semaphore` and `ReadWriteLock`. */
  request(
    name: string,
    spec: LockSpec,
    options: AcquireOptions,
    wait: boolean,
  ): Promise<Lock | null> {
    return this.#request(name, spec, options, wait, (id) => ({
      type: 'acquire',
      id,
      name,
      kind: spec.kind,
      mode: spec.mode,
      ...(spec.permits === undefined ? {} : { permits: spec.permits }),
      ttl: options.ttl ?? null,
      wait,
    })) as Promise<Lock | null>;
  }

  async #request(
    name: string,
    spec: LockSpec | undefined,
    options: WaitOptions,
    wait: boolean,
    command: (id: string) => LocksCommand,
  ): Promise<Lock | Leadership | null> {
    if (this.#closed)
      throw new MachineClosedError('the Locks client is closed', { outcome: 'not-applied' });
    this.#refuseReentry(name, spec);
    const what = spec === undefined ? `campaign for '${name}'` : `acquire '${name}'`;
    const ws = waitSignal(this.machine.clock, options, what);
    let id: string | undefined;
    try {
      for (;;) {
        await this.#readyOrRefuse(what, ws.signal);
        if (this.#closed)
          throw new MachineClosedError('the Locks client is closed', { outcome: 'not-applied' });
        id = uuidv7();
        let resolve!: Waiter['resolve'];
        const done = new Promise<Lock | Leadership | 'dropped' | 'minority'>((r) => (resolve = r));
        const w: Waiter = { id, name, spec, confirmed: false, seen: undefined, resolve };
        this.#waits.set(id, w);
        let res: LocksResult;
        try {
          res = await this.machine.dispatch(command(id), { signal: ws.signal });
        } catch (err) {
          if (err instanceof NoQuorumError && !ws.signal.aborted) {
            // lost quorum while sending: maybe applied somewhere; released when ready again
            const gone = id;
            id = undefined;
            this.#waits.delete(gone);
            this.#abandon(gone, name, spec === undefined);
            throw err;
          }
          if (err instanceof InterruptedError && !ws.signal.aborted) {
            // a membership change (another member joining, say) dropped it unapplied, on every
            // member: nothing to withdraw; ask again
            this.#waits.delete(id);
            id = undefined;
            continue;
          }
          throw err;
        }
        if ((res as AcquireResult).status === 'busy') {
          this.#waits.delete(id);
          id = undefined;
          return null;
        }
        w.confirmed = true;
        this.#settleSoon();
        const out = await raceSignal(done, ws.signal);
        if (out === 'minority') throw minorityError(what, true);
        if (out === 'dropped') {
          if (this.#closed)
            throw new MachineClosedError('the Locks client is closed', { outcome: 'not-applied' });
          // the primary component forgot our request (we were cut off from it): ask again
          id = undefined;
          continue;
        }
        id = undefined;
        return out;
      }
    } catch (err) {
      if (id !== undefined) await this.#giveUp(id, name, spec === undefined);
      if (ws.signal.aborted) throw ws.signal.reason as Error;
      throw err;
    } finally {
      ws.dispose();
    }
  }

  /**
   * Locks are not reentrant: a second request for a name this client holds or waits for would
   * wait for itself. JavaScript has no thread identity that could tell a reentry from another
   * task of the same process, so Curator-style reentry (a hold count per thread) would let two
   * tasks hold the mutex at once; refuse instead. Semaphores count permits, not holders: one
   * client may take several.
   */
  #refuseReentry(name: string, spec: LockSpec | undefined): void {
    if (spec?.kind === 'semaphore') return;
    const election = spec === undefined;
    const held = [...this.#held.values()].some((h) =>
      election
        ? h instanceof Leadership && h.name === name
        : h instanceof Lock && h.name === name && h.kind !== 'semaphore',
    );
    const waiting = [...this.#waits.values()].some((w) =>
      election
        ? w.spec === undefined && w.name === name
        : w.spec !== undefined && w.name === name && w.spec.kind !== 'semaphore',
    );
    if (!held && !waiting) return;
    const state = held ? 'held' : 'waiting';
    const what = election ? `leadership of '${name}'` : `lock '${name}'`;
    const verb = election ? (held ? 'leads' : 'campaigns for') : held ? 'holds' : 'waits for';
    throw new AlreadyHeldError(
      `${what}: this Locks already ${verb} it; locks are not reentrant (a second request would wait for itself): pass the held handle down, or use one Locks per independent user`,
      name,
      state,
    );
  }

  /**
   * Wait until the machine is `ready`; refuse at once with `NoQuorumError` when it is (or
   * becomes) a minority: the rule of every write. `syncing` is waited for.
   */
  async #readyOrRefuse(what: string, signal: AbortSignal): Promise<void> {
    const m = this.machine;
    if (m.status === 'minority') throw minorityError(what, false);
    if (m.status === 'ready') return;
    let off: () => void = () => undefined;
    const minority = new Promise<never>((_, reject) => {
      off = m.on('status', (e) => {
        if (e.status === 'minority') reject(minorityError(what, false));
      });
    });
    try {
      await Promise.race([m.ready({ signal }), minority]);
    } finally {
      off();
    }
  }

  /** Every request waiting for a grant gives up: this member is in a minority. */
  #failWaits(): void {
    for (const w of [...this.#waits.values()]) {
      this.#waits.delete(w.id);
      w.resolve('minority');
    }
  }

  /** Withdraw a request we no longer want, through the group; the reaper retries if that fails. */
  async #giveUp(id: string, name: string, election: boolean): Promise<void> {
    this.#waits.delete(id);
    const h = this.#held.get(id);
    if (h !== undefined) {
      this.#held.delete(id);
      h.lose('released', 'the request was given up');
    }
    const cmd: LocksCommand = election
      ? { type: 'resign', id, name }
      : { type: 'withdraw', id, name };
    try {
      await this.machine.dispatch(cmd, { timeout: 10_000 });
    } catch {
      this.#abandon(id, name, election);
    }
  }

  #abandon(id: string, name: string, election: boolean): void {
    this.#abandoned.set(id, { name, election, since: this.machine.clock.now() });
  }

  // ---- handles call these

  /** @internal */
  async releaseLock(lock: Lock): Promise<void> {
    const wasHeld = this.#held.get(lock.id) === lock;
    this.#held.delete(lock.id);
    if (!wasHeld) return; // lost: the reaper releases it if the state still lists it
    await this.#sendRelease(lock.id, lock.name, false);
  }

  /** @internal */
  async renewLock(lock: Lock, ttl: number): Promise<number> {
    const res = (await this.machine.dispatch({
      type: 'renew',
      id: lock.id,
      name: lock.name,
      ttl,
    })) as RenewResult;
    return res.expires;
  }

  /** @internal */
  async resign(leadership: Leadership): Promise<void> {
    const wasHeld = this.#held.get(leadership.id) === leadership;
    this.#held.delete(leadership.id);
    if (!wasHeld) return;
    await this.#sendRelease(leadership.id, leadership.name, true);
  }

  /** @internal */
  async proclaim(leadership: Leadership, value: Json): Promise<void> {
    (await this.machine.dispatch({
      type: 'proclaim',
      id: leadership.id,
      name: leadership.name,
      value,
    })) as ProclaimResult;
  }

  async #sendRelease(id: string, name: string, election: boolean): Promise<void> {
    const cmd: LocksCommand = election
      ? { type: 'resign', id, name }
      : { type: 'release', id, name };
    try {
      await this.machine.dispatch(cmd, { timeout: 10_000 });
    } catch (err) {
      if (err instanceof CommandFailedError) throw err;
      // no quorum, closed, timed out: our hold cannot be trusted anyway; retry when ready
      this.#abandon(id, name, election);
    }
  }

  // ---- following the replicated state

  #onChange(change: StateChange<LocksState, LocksCommand, LocksResult>): void {
    if (
      change.kind === 'membership' &&
      change.change.left.some((m) => m.incarnation === this.machine.self.incarnation)
    ) {
      this.#loseAll('evicted', 'the group no longer lists this member');
    }
    // a snapshot replaced the state: grants seen before are seen again in the new one
    if (change.kind === 'sync') for (const w of this.#waits.values()) w.seen = undefined;
    const why: LossReason = change.kind === 'tick' ? 'lease-expired' : 'released';
    const state = change.state;
    this.#noteElections(state, change.kind === 'sync');
    for (const [id, h] of this.#held) {
      if (h instanceof Lock) {
        const holder = state.locks[h.name]?.holders.find((x) => x.id === id);
        if (holder === undefined) {
          this.#held.delete(id);
          h.lose(
            why,
            why === 'lease-expired' ? 'its lease ran out' : 'the group no longer lists it as held',
          );
        } else h.updateExpires(holder.expires);
      } else {
        const e = state.elections[h.name];
        if (e?.leader?.id !== id) {
          this.#held.delete(id);
          h.lose('released', 'the group no longer lists it as leader');
        } else h.updateValue(e.leader.value);
      }
    }
    this.#settleSoon();
  }

  /**
   * Remember at which index each election last changed (immer keeps an unchanged entry's
   * identity), so that `leader()` says `stale` until a majority of `Q` holds the change.
   */
  #noteElections(state: LocksState, replaced: boolean): void {
    const els = state.elections;
    const prev = this.#elections;
    if (els === prev && !replaced) return;
    this.#elections = els;
    const at = this.machine.index;
    for (const [name, e] of Object.entries(els))
      if (replaced || prev?.[name] !== e) this.#electionAt.set(name, at);
  }

  /**
   * Hand out grants after the events delivered with this one have been applied too: a process
   * that was paused (or slow) gets its queued events in one batch, and the membership change
   * that cut it off may come right after the entry that committed its grant.
   */
  #settleSoon(): void {
    if (this.#settleScheduled) return;
    this.#settleScheduled = true;
    setImmediate(() => {
      this.#settleScheduled = false;
      this.#settle();
    });
  }

  /**
   * Whether a grant (a token or a term) seen in the local state may be handed out: the state
   * is `ready` and a strict majority of `Q` applied the entry that made it. A grant that only
   * one side of a partition applied (CPG can deliver a message in flight on its sender's side
   * only) is never handed out: the majority may grant the same token to someone else.
   */
  #committed(w: Waiter, grant: string): boolean {
    const m = this.machine;
    if (w.seen?.grant !== grant) w.seen = { grant, index: m.index };
    return m.committedIndex >= w.seen.index;
  }

  /** Hand out committed grants seen in the state (only when ready: never from a minority), and reap. */
  #settle(): void {
    if (this.machine.status !== 'ready') return;
    const state = this.machine.state;
    for (const w of [...this.#waits.values()]) {
      if (w.spec === undefined) {
        const e = state.elections[w.name];
        if (e?.leader?.id === w.id) {
          if (!this.#committed(w, e.term)) continue;
          this.#waits.delete(w.id);
          const l = new Leadership(this, {
            id: w.id,
            name: w.name,
            term: e.term,
            value: e.leader.value,
          });
          this.#held.set(w.id, l);
          w.resolve(l);
        } else if (w.confirmed && !e?.candidates.some((c) => c.id === w.id)) {
          this.#waits.delete(w.id);
          w.resolve('dropped');
        }
      } else {
        const entry = state.locks[w.name];
        const h = entry?.holders.find((x) => x.id === w.id);
        if (h !== undefined) {
          if (!this.#committed(w, h.token)) continue;
          this.#waits.delete(w.id);
          const lock = new Lock(this, {
            id: w.id,
            name: w.name,
            kind: w.spec.kind,
            mode: h.mode,
            token: h.token,
            expires: h.expires,
          });
          this.#held.set(w.id, lock);
          w.resolve(lock);
        } else if (w.confirmed && !entry?.waiters.some((x) => x.id === w.id)) {
          this.#waits.delete(w.id);
          w.resolve('dropped');
        }
      }
    }
    this.#reap();
  }

  /** Release or withdraw what we gave up but the state still lists as ours. */
  #reap(): void {
    if (this.#abandoned.size === 0 || this.machine.status !== 'ready') return;
    const state = this.machine.state;
    const me = this.machine.self.incarnation;
    const now = this.machine.clock.now();
    for (const [id, a] of this.#abandoned) {
      if (this.#inflight.has(id)) continue;
      let cmd: LocksCommand | undefined;
      if (a.election) {
        const e = state.elections[a.name];
        const c = e?.leader?.id === id ? e.leader : e?.candidates.find((x) => x.id === id);
        if (c !== undefined && c.owner.incarnation === me)
          cmd = { type: 'resign', id, name: a.name };
      } else {
        const entry = state.locks[a.name];
        const x =
          entry?.holders.find((h) => h.id === id) ?? entry?.waiters.find((h) => h.id === id);
        if (x !== undefined && x.owner.incarnation === me)
          cmd = { type: 'withdraw', id, name: a.name };
      }
      if (cmd === undefined) {
        if (now - a.since > ABANDON_KEEP) this.#abandoned.delete(id);
        continue;
      }
      this.#inflight.add(id);
      this.machine
        .dispatch(cmd, { timeout: 10_000 })
        .then(
          () => this.#abandoned.delete(id),
          () => undefined,
        )
        .finally(() => this.#inflight.delete(id));
    }
  }

  #loseAll(reason: LossReason, message: string): void {
    for (const [id, h] of this.#held) {
      this.#held.delete(id);
      this.#abandon(id, h.name, h instanceof Leadership);
      h.lose(reason, message);
    }
  }

  #onClosed(): void {
    this.#loseAll('closed', 'the state machine was closed');
    for (const w of this.#waits.values()) w.resolve('dropped');
    this.#closed = true;
  }
}

/** The `NoQuorumError` of a request refused (or given up) in a minority. */
function minorityError(what: string, waited: boolean): NoQuorumError {
  return new NoQuorumError(
    `${what}: no quorum: this member is in a minority partition (or the cluster lost quorum); ` +
      (waited
        ? 'the request was given up and is withdrawn when quorum returns'
        : 'nothing was sent') +
      ' (not applied: retry once quorum returns)',
  );
}
