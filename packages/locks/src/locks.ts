/**
 * `Locks`: the client of the lock machine. Its requests wait for their grants in the
 * replicated state; it hands them out as handles (`Lock`, `Leadership`), follows what it holds,
 * and lets go of what it no longer wants. The rules it applies live beside it: the hand-out
 * (hand-out.ts), no reentry (reentry.ts), abandoned requests (reaper.ts), what it reports about
 * elections (elections.ts); the handles talk to it through a private `LockClient`.
 * @module
 */
import {
  deferred,
  InterruptedError,
  raceSignal,
  waitSignal,
  type GroupTransport,
  type WaitOptions,
} from '@cpgkit/core';
import {
  CommandFailedError,
  MachineClosedError,
  NoQuorumError,
  ReplicatedStateMachine,
  roleOptions,
  type StateChange,
} from '@cpgkit/statemachine';
import type { AcquireResult, LocksCommand, LocksResult, RenewResult } from './commands.js';
import { ElectionView, type LeaderInfo } from './elections.js';
import type { LossReason } from './errors.js';
import { handOut, type Waiter } from './hand-out.js';
import { LateGrants } from './late-grants.js';
import { grantLeadership, type Leadership } from './leadership.js';
import { grantLock, type Lock } from './lock.js';
import type { HandleRef, LockClient } from './lock-client.js';
import { locksMachine } from './machine.js';
import { minorityError, readyOrRefuse } from './ready.js';
import { Reaper } from './reaper.js';
import { refuseReentry } from './reentry.js';
import { rwlockView, type ReadWriteLock } from './rwlock.js';
import { semaphoreView, type Semaphore } from './semaphore.js';
import type { Json, LocksState } from './state.js';
import type {
  AcquireOptions,
  CampaignOptions,
  LockSpec,
  LocksOpenOptions,
  LocksOptions,
  LocksStateMachine,
} from './types.js';
import { withHandle } from './with-handle.js';
import { ByName } from './by-name.js';
import { aboutKey, followHeld, heldHandles, type Held } from './held.js';
import { requestId } from './request-ids.js';

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
export class Locks implements AsyncDisposable {
  /** The state machine underneath. */
  readonly machine: LocksStateMachine;
  /** By request id, and by what they are about (a command changes one name only). */
  readonly #held = heldHandles();
  readonly #waits = new ByName<Waiter>((w) => aboutKey(w.spec === undefined, w.name));
  readonly #reaper: Reaper;
  readonly #elections: ElectionView;
  /** What the handles this client makes call (never exported: see lock-client.ts). */
  readonly #client: LockClient;
  readonly #unsubscribe: (() => void)[];
  readonly #closeMachine: boolean;
  #closed = false;
  #handOutScheduled = false;
  readonly #late: LateGrants;

  constructor(machine: LocksStateMachine, options: LocksOptions = {}) {
    this.machine = machine;
    this.#closeMachine = options.closeMachine ?? false;
    this.#late = new LateGrants(machine, options.failoverDelay ?? 0, () => this.#handOutSoon());
    this.#reaper = new Reaper(machine);
    this.#elections = new ElectionView(machine, () => this.#closed);
    this.#client = {
      get clock() {
        return machine.clock;
      },
      release: (lock) => this.#giveBack(lock, false),
      renew: (lock, ttl) => this.#renew(lock, ttl),
      resign: (leadership) => this.#giveBack(leadership, true),
      proclaim: (leadership, value) => this.#proclaim(leadership, value),
    };
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
        else if (e.status === 'ready') this.#handOutSoon();
      }),
      // a grant seen in the state is handed out once a majority of Q holds it
      machine.on('commit', () => this.#handOutSoon()),
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
    return new Locks(machine, {
      closeMachine: true,
      ...(options.failoverDelay === undefined ? {} : { failoverDelay: options.failoverDelay }),
    });
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
    return this.#requestLock(name, MUTEX, options, true) as Promise<Lock>;
  }

  /**
   * The mutex `name` if the group grants it at once (nobody holds or waits), else `null`. Leaves
   * no waiter behind. Rejects like `acquire` (`AlreadyHeldError`, `NoQuorumError`...).
   */
  tryAcquire(name: string, options: Omit<AcquireOptions, 'timeout'> = {}): Promise<Lock | null> {
    return this.#requestLock(name, MUTEX, options, false);
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
    return semaphoreView(name, permits, (spec, options, wait) =>
      this.#requestLock(name, spec, options, wait),
    );
  }

  /** The read-write lock `name`: many readers or one writer; a waiting writer blocks later readers. */
  rwlock(name: string): ReadWriteLock {
    return rwlockView(name, (spec, options, wait) => this.#requestLock(name, spec, options, wait));
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
    return this.#elections.leader(name);
  }

  /**
   * The leader of `name`: now, then at every change (leader, term, value, staleness), until
   * the signal aborts or the client closes.
   */
  observe(
    name: string,
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<LeaderInfo, void, undefined> {
    return this.#elections.observe(name, options);
  }

  /** Handles this client holds now (locks and leaderships). */
  get held(): readonly (Lock | Leadership)[] {
    return [...this.#held.values()].map((h) => h.handle);
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
      (h.kind === 'lock' ? h.handle.release() : h.handle.resign()).catch(() => undefined),
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

  /** A lock request (a mutex, a semaphore permit, a read or write share). */
  #requestLock(
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
    const key = aboutKey(spec === undefined, name);
    refuseReentry(
      name,
      spec,
      Array.from(this.#held.group(key).values(), (h) => h.handle),
      this.#waits.group(key).values(),
    );
    const what = spec === undefined ? `campaign for '${name}'` : `acquire '${name}'`;
    // a wait with neither a signal nor a timeout never aborts: no signal of its own then (an
    // AbortController, its listeners and a waiter around the dispatch were ~6% of a command)
    const ws =
      options.signal === undefined && options.timeout === undefined
        ? undefined
        : waitSignal(this.machine.clock, options, what);
    const signal = ws?.signal;
    let id: string | undefined;
    try {
      for (;;) {
        await readyOrRefuse(this.machine, what, signal);
        if (this.#closed)
          throw new MachineClosedError('the Locks client is closed', { outcome: 'not-applied' });
        id = requestId();
        const done = deferred<Lock | Leadership | 'dropped' | 'minority'>();
        const w: Waiter = {
          id,
          name,
          spec,
          confirmed: false,
          seen: undefined,
          resolve: (out) => done.resolve(out),
        };
        this.#waits.set(id, w);
        let res: LocksResult;
        try {
          res = await this.machine.dispatch(
            command(id),
            signal === undefined ? undefined : { signal },
          );
        } catch (err) {
          if (err instanceof NoQuorumError && signal?.aborted !== true) {
            // lost quorum while sending: maybe applied somewhere; released when ready again
            const gone = id;
            id = undefined;
            this.#waits.delete(gone);
            this.#reaper.abandon(gone, name, spec === undefined);
            throw err;
          }
          if (err instanceof InterruptedError && signal?.aborted !== true) {
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
        this.#handOutSoon();
        const out = await (signal === undefined ? done.promise : raceSignal(done.promise, signal));
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
      if (signal?.aborted === true) throw signal.reason as Error;
      throw err;
    } finally {
      ws?.dispose();
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
      this.#reaper.abandon(id, name, election);
    }
  }

  // ---- what the handles ask (through #client)

  /** `release()` of a lock, `resign()` of a leadership: nothing is sent for one lost already. */
  async #giveBack(handle: HandleRef, election: boolean): Promise<void> {
    const wasHeld = this.#held.get(handle.id)?.handle === handle;
    this.#held.delete(handle.id);
    if (!wasHeld) return; // lost: the reaper releases it if the state still lists it
    const cmd: LocksCommand = election
      ? { type: 'resign', id: handle.id, name: handle.name }
      : { type: 'release', id: handle.id, name: handle.name };
    try {
      await this.machine.dispatch(cmd, { timeout: 10_000 });
    } catch (err) {
      if (err instanceof CommandFailedError) throw err;
      // no quorum, closed, timed out: our hold cannot be trusted anyway; retry when ready
      this.#reaper.abandon(handle.id, handle.name, election);
    }
  }

  async #renew(lock: HandleRef, ttl: number): Promise<number> {
    const cmd: LocksCommand = { type: 'renew', id: lock.id, name: lock.name, ttl };
    return ((await this.machine.dispatch(cmd)) as RenewResult).expires;
  }

  async #proclaim(leadership: HandleRef, value: Json): Promise<void> {
    await this.machine.dispatch({
      type: 'proclaim',
      id: leadership.id,
      name: leadership.name,
      value,
    });
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
    this.#elections.note(change.state, change.kind === 'sync');
    followHeld(this.#held, change);
    this.#handOutSoon();
  }

  /**
   * Hand out grants after the events delivered with this one have been applied too: a process
   * that was paused (or slow) gets its queued events in one batch, and the membership change
   * that cut it off may come right after the entry that committed its grant.
   */
  #handOutSoon(): void {
    if (this.#handOutScheduled) return;
    this.#handOutScheduled = true;
    setImmediate(() => {
      this.#handOutScheduled = false;
      this.#handOut();
    });
  }

  /**
   * Hand out committed grants seen in the state (only when ready: never from a minority; the
   * rule is `handOut` in hand-out.ts), and reap.
   */
  #handOut(): void {
    const m = this.machine;
    if (m.status !== 'ready') return;
    const state = m.state;
    for (const w of [...this.#waits.values()]) {
      const out = handOut(w, state, m);
      if (out.kind === 'wait') continue;
      if (out.kind !== 'dropped' && !this.#late.mayHandOut(w.name, out.kind === 'leadership'))
        continue;
      this.#waits.delete(w.id);
      if (out.kind === 'dropped') {
        w.resolve('dropped');
        continue;
      }
      const h: Held =
        out.kind === 'lock'
          ? { kind: 'lock', ...grantLock(this.#client, out.grant) }
          : { kind: 'leadership', ...grantLeadership(this.#client, out.grant) };
      this.#held.set(w.id, h);
      w.resolve(h.handle);
    }
    this.#reaper.reap();
  }

  #loseAll(reason: LossReason, message: string): void {
    for (const [id, h] of this.#held.entries()) {
      this.#held.delete(id);
      this.#reaper.abandon(id, h.handle.name, h.kind === 'leadership');
      h.lose(reason, message);
    }
  }

  #onClosed(): void {
    this.#loseAll('closed', 'the state machine was closed');
    for (const w of this.#waits.values()) w.resolve('dropped');
    this.#closed = true;
  }
}

const MUTEX: LockSpec = { kind: 'mutex', mode: 'exclusive' };
