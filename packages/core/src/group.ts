/**
 * `Group`: the public group member (`GroupTransport`) over any engine driver (`Transport`):
 * the corosync transport or the in-memory cluster. Framing, batching, chunking,
 * backpressure and the event stream live here, so they behave the same on both engines.
 *
 * Past 500 lines on purpose: join, leave, close and the receive path all read and change one
 * member's few states (joined, in the group, deaf to a left handle, closed), and their
 * transitions are easier to check side by side; framing (outbox.ts, frame-decoder.ts), the
 * event stream (event-hub.ts) and waiting (wait.ts) are in files of their own.
 * @module
 */
import { corosync } from './corosync/transport.js';
import type { DriverSink, GroupDriver, Transport } from './driver.js';
import {
  AlreadyJoinedError,
  GroupClosedError,
  NotJoinedError,
  TimeoutError,
  TryAgainError,
} from './errors.js';
import { EventHub } from './event-hub.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from './frame.js';
import { FrameDecoder } from './frame-decoder.js';
import { encodeGroupName } from './group-name.js';
import { Outbox } from './outbox.js';
import { sleep, waiter } from './wait.js';
import type { GroupInfo, GroupTransport, SendOptions } from './transport.js';
import type {
  Clock,
  GroupEvent,
  GroupEventOf,
  GroupEventType,
  MemberChange,
  MemberId,
  QuorumView,
  RingId,
  TransportKind,
  WaitOptions,
} from './types.js';

/** Options of a `Group`. */
export interface GroupOptions {
  /**
   * `auto` (default): events are dispatched by the event loop. `manual`: nothing is
   * dispatched until you call `dispatch()`.
   * @defaultValue `'auto'`
   */
  readonly dispatch?: 'auto' | 'manual';
  /**
   * The largest logical message `send` takes (bigger than the engine's atomic size is
   * chunked). Also the largest chunked payload this member reassembles.
   * @defaultValue 64 MiB
   */
  readonly maxMessageSize?: number;
  /**
   * Bytes accepted by `send` but not yet by the engine before `send` rejects with
   * `QueueFullError`. One send always fits an empty queue.
   * @defaultValue 128 MiB
   */
  readonly maxQueueBytes?: number;
  /**
   * Logical messages accepted by `send` but not yet by the engine before `send` rejects
   * with `QueueFullError`.
   * @defaultValue 1,000,000
   */
  readonly maxQueueMessages?: number;
  /**
   * The largest CPG message a batch of small sends fills (capped by the engine's atomic
   * size).
   * @defaultValue 1 MiB (the atomic size)
   */
  readonly batchBytes?: number;
}

const DEFAULT_BATCH_BYTES = 1024 * 1024;

/** Options of `openGroup`. */
export interface OpenGroupOptions extends GroupOptions, WaitOptions {
  /** The engine. Defaults to `corosync()` (the local corosync daemon). */
  readonly transport?: Transport;
}

/** The pause between `cpg_join` attempts that answered try again. */
const JOIN_RETRY_MS = 20;
/** How long `join` retries try again when the caller gave neither a timeout nor a signal. */
const DEFAULT_JOIN_RETRY_WINDOW_MS = 1000;

function sameMember(a: MemberId, b: MemberId): boolean {
  return a.nodeid === b.nodeid && a.pid === b.pid;
}

const utf8 = new TextDecoder();

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A member of one process group, over any `Transport`. Create it unjoined with
 * `new Group(transport)` and `join(name)`, or joined with `openGroup(name)`.
 *
 * Events arrive in one ordered stream: `on(type, handler)` handlers run synchronously in
 * delivery order; `events()` / `for await (const e of group)` iterate it asynchronously.
 * `members()` is the member list of the last delivered membership event.
 *
 * @example
 * ```ts
 * const group = new Group(cluster.processTransport(1));
 * group.on('message', (m) => console.log(m.sender, m.data));
 * await group.join('orders');
 * await group.send(new TextEncoder().encode('hello'));
 * await group.close();
 * ```
 */
export class Group implements GroupTransport {
  /** Which engine this member runs on. */
  readonly kind: TransportKind;
  /** The transport's clock (virtual on the in-memory cluster). */
  readonly clock: Clock;
  /**
   * The largest logical message `send` takes (the `maxMessageSize` option, default 64 MiB);
   * not the engine's limit, see `atomicMessageSize`.
   */
  readonly maxMessageSize: number;

  readonly #transport: Transport;
  readonly #dispatchMode: 'auto' | 'manual';
  readonly #hub = new EventHub();
  readonly #outbox: Outbox;
  readonly #decoder: FrameDecoder;

  #driver: GroupDriver | undefined;
  #connecting: Promise<GroupDriver> | undefined;
  #generation = 0;
  /** The driver has joined once: corosync 3.1.7 cannot rejoin on it. */
  #driverUsed = false;

  #name: string | undefined;
  #self: MemberId | undefined;
  #atomicMessageSize: number | undefined;
  #joined = false;
  #joining = false;
  /** The join in flight, so that `leave()` can wait for it rather than race it. */
  #pendingJoin: Promise<void> | undefined;
  /** We have seen ourselves in a membership event since the last join. */
  #inGroup = false;
  #members: readonly MemberId[] = [];
  #quorate = false;
  #joinWaiter: Waiter | undefined;
  /**
   * We have left (our own leave was delivered): corosync 3.1.7 still delivers the group's
   * messages and membership events to the old handle; they are not ours any more.
   */
  #deaf = false;
  #leaveWaiter: Waiter | undefined;

  #closed = false;
  #resolveClosed!: (value: void | Error) => void;
  readonly #closedPromise: Promise<void | Error>;

  /**
   * An unjoined member on `transport`. Nothing is connected until `join` (or `groups`).
   * `new Group({ transport, ...options })` works too (no transport: `corosync()`).
   * @param transport - `corosync()`, or `cluster.processTransport(n)` of a `MemoryCluster`
   * @param options - dispatch mode and send limits
   */
  constructor(transport: Transport | OpenGroupOptions, options: GroupOptions = {}) {
    if (!('connect' in transport)) {
      // `new Group({ transport, ...options })`, the same shape as openGroup's options.
      options = transport;
      transport = transport.transport ?? defaultTransport();
    }
    this.#transport = transport;
    this.kind = transport.kind;
    this.clock = transport.clock;
    this.#dispatchMode = options.dispatch ?? 'auto';
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#outbox = new Outbox({
      maxMessageSize: this.maxMessageSize,
      maxQueueBytes: options.maxQueueBytes ?? 128 * 1024 * 1024,
      maxQueueMessages: options.maxQueueMessages ?? 1_000_000,
      batchBytes: options.batchBytes ?? DEFAULT_BATCH_BYTES,
    });
    this.#decoder = new FrameDecoder(this.#deliverMessage, this.maxMessageSize);
    this.#closedPromise = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** The joined group's name, or `undefined` when not joined. */
  get name(): string | undefined {
    return this.#joined ? this.#name : undefined;
  }

  /** Whether we are joined (and not evicted, left or closed). */
  get joined(): boolean {
    return this.#joined;
  }

  /**
   * Our member id (this node's id and our pid). Known from the first connection on: after
   * `join` (or `groups()`, which connects too) has connected, even while the join waits.
   * Throws `NotJoinedError` before that.
   */
  get self(): MemberId {
    if (!this.#self) throw new NotJoinedError('no member id yet: call join() first');
    return this.#self;
  }

  /**
   * The largest single CPG message the engine takes atomically: corosync's
   * `cpg_max_atomic_msgsize_get` (1,047,552 bytes on 3.1.7), or the in-memory cluster's
   * `maxMessageSize` option (the same by default). A send whose payload (after framing) is
   * bigger goes out in chunk frames that only cpgkit reassembles: keep messages meant for a
   * plain libcpg client at or under this size. `undefined` until the first connection (`join`
   * or `groups()`).
   */
  get atomicMessageSize(): number | undefined {
    return this.#atomicMessageSize;
  }

  /** This node's quorum as last reported (false until known). */
  get quorate(): boolean {
    return this.#quorate;
  }

  /** Messages and bytes accepted by `send` that the engine has not taken yet. */
  get queued(): { readonly messages: number; readonly bytes: number } {
    return { messages: this.#outbox.queuedMessages, bytes: this.#outbox.queuedBytes };
  }

  /**
   * Connect (if needed) and join `name`. Resolves when the membership event that includes
   * us has been delivered (so `members()` includes us). Rejoining after `leave` works (on
   * corosync a fresh connection is opened behind the scenes).
   * @throws InvalidGroupNameError before any engine call, for an empty or > 128-byte name
   * @throws AlreadyJoinedError when joined already (or a join is in progress)
   * @throws TimeoutError when `options.timeout` ms passed first (it covers the whole join,
   *   try-again retries included)
   * @throws TryAgainError when corosync answered try again for about 1 s and the caller gave
   *   neither `timeout` nor `signal` (with a `signal` alone, retries go on until it aborts)
   */
  async join(name: string, options: WaitOptions = {}): Promise<void> {
    const joining = this.#join(name, options);
    this.#pendingJoin = joining;
    try {
      await joining;
    } finally {
      if (this.#pendingJoin === joining) this.#pendingJoin = undefined;
    }
  }

  async #join(name: string, options: WaitOptions): Promise<void> {
    const bytes = encodeGroupName(name);
    this.#assertOpen();
    if (this.#joined || this.#joining) {
      throw new AlreadyJoinedError(
        `this member is already in group ${JSON.stringify(this.#name)}: leave() first, or create another Group`,
      );
    }
    options.signal?.throwIfAborted();
    // One deadline for the whole join: try-again retries, then the wait for our membership event.
    const deadline = options.timeout === undefined ? undefined : this.clock.now() + options.timeout;
    this.#joining = true;
    try {
      if (this.#driver && this.#driverUsed) this.#dropDriver();
      const driver = this.#driver ?? (await this.#connect());
      this.#assertOpen();
      this.#inGroup = false;
      this.#deaf = false;
      await this.#joinWithRetry(driver, name, bytes, options, deadline);
      this.#driverUsed = true;
      this.#name = name;
      this.#joined = true;
      this.#outbox.attach(driver);
      if (this.#dispatchMode === 'manual') return;
      try {
        await this.#waitInGroup(options, deadline);
      } catch (error) {
        // Abandon the half-made join: the engine drops us when the connection closes.
        if (!this.#closed) {
          this.#joined = false;
          this.#outbox.detach();
          this.#outbox.failAll(new NotJoinedError('the join was abandoned'));
          this.#dropDriver();
        }
        throw error;
      }
    } finally {
      this.#joining = false;
    }
  }

  /**
   * `cpg_join`, retried every 20 ms while corosync answers try again (it does during every
   * membership change): until `deadline` (the caller's timeout; then `TimeoutError`), or until
   * the signal aborts; with neither, for about 1 s (then the `TryAgainError`).
   */
  async #joinWithRetry(
    driver: GroupDriver,
    name: string,
    bytes: Uint8Array,
    options: WaitOptions,
    deadline: number | undefined,
  ): Promise<void> {
    const { signal, timeout } = options;
    const giveUpAt =
      deadline ??
      (signal === undefined ? this.clock.now() + DEFAULT_JOIN_RETRY_WINDOW_MS : Infinity);
    for (;;) {
      try {
        driver.join(bytes);
        return;
      } catch (error) {
        if (!(error instanceof TryAgainError)) throw error;
        const left = giveUpAt - this.clock.now();
        if (left <= 0) {
          if (deadline === undefined) throw error;
          throw new TimeoutError(
            `join(${JSON.stringify(name)}) did not complete within ${timeout} ms: corosync kept answering try again`,
            { cause: error },
          );
        }
        await sleep(this.clock, Math.min(JOIN_RETRY_MS, left), signal);
      }
      this.#assertOpen();
    }
  }

  #waitInGroup(options: WaitOptions, deadline: number | undefined): Promise<void> {
    if (this.#inGroup) return Promise.resolve();
    const { signal, timeout } = options;
    const joinWaiter: Waiter = {
      resolve: () => w.resolve(),
      reject: (e) => w.reject(e instanceof Error ? e : new Error(String(e))),
    };
    this.#joinWaiter = joinWaiter;
    const w = waiter<void>(this.clock, {
      signal,
      timeout: deadline === undefined ? undefined : Math.max(0, deadline - this.clock.now()),
      timeoutError: () =>
        new TimeoutError(
          `join(${JSON.stringify(this.#name)}) did not complete within ${timeout} ms`,
        ),
      onSettle: () => {
        if (this.#joinWaiter === joinWaiter) this.#joinWaiter = undefined;
      },
    });
    return w.promise;
  }

  /**
   * Leave the group. Sends issued before `leave` (in the same tick) still go out; sends
   * still waiting for the engine reject with `NotJoinedError`. Resolves when our own leave
   * has been delivered to us (auto dispatch). The member can `join` again later.
   */
  async leave(): Promise<void> {
    // A join in flight finishes first (or fails): leaving under it would leave the engine
    // with a member that this object no longer thinks is joined.
    if (this.#pendingJoin) await this.#pendingJoin.catch(() => undefined);
    if (this.#closed || !this.#joined) return;
    const driver = this.#driver;
    this.#outbox.flush();
    this.#joined = false;
    this.#outbox.detach();
    this.#outbox.failAll(new NotJoinedError('left the group before the engine took the message'));
    if (!driver) return;
    const wait =
      this.#inGroup && this.#dispatchMode === 'auto'
        ? new Promise<void>((resolve) => {
            this.#leaveWaiter = { resolve, reject: () => resolve() };
          })
        : undefined;
    try {
      driver.leave();
    } catch (error) {
      this.#leaveWaiter = undefined;
      throw error;
    }
    if (wait) {
      await wait;
      this.#inGroup = false;
    }
    // Manual dispatch: our leave's membership event is still to be dispatched. #inGroup stays as
    // it is, so that event (or, if our join's event was not dispatched yet, that one and then
    // the leave's) makes us deaf to the handle from then on, as in auto mode.
    this.#decoder.clear();
    // corosync 3.1.7 goes on delivering the group's events to a handle that left, and cannot
    // rejoin on it: let it go, so that a member that left hears nothing more from the group.
    if (this.#driver === driver && this.#dispatchMode === 'auto') this.#dropDriver();
  }

  /**
   * Send one message, or several that every member receives as separate consecutive
   * messages. Resolves when the engine accepted them. Sends in one tick are batched.
   * Messages up to the engine's atomic size are copied at once; larger ones are read while
   * they are sent, so do not modify them until the promise resolves.
   */
  send(data: Uint8Array | readonly Uint8Array[], options?: SendOptions): Promise<void> {
    if (this.#closed) return Promise.reject(new GroupClosedError('the group is closed'));
    if (!this.#joined) {
      return Promise.reject(new NotJoinedError('not joined: call join() before send()'));
    }
    return this.#outbox.send(data, options?.signal);
  }

  /** The group's members as of the last delivered membership event. */
  members(): readonly MemberId[] {
    return this.#members;
  }

  /** Every group in the cluster with its members (connects if needed). */
  async groups(): Promise<GroupInfo[]> {
    this.#assertOpen();
    const driver = this.#driver ?? (await this.#connect());
    return driver.groups().map((g) => ({
      group: utf8.decode(g.group),
      nameBytes: g.group,
      members: g.members,
    }));
  }

  /** Handle every event of `type`; returns the unsubscribe function. Handlers run in order. */
  on<T extends GroupEventType>(type: T, handler: (event: GroupEventOf<T>) => void): () => void {
    return this.#hub.on(type, handler);
  }

  /**
   * A new iterator over events from now on. Ends when the group closes: normally after
   * `close()`; when the connection is lost (the daemon died), its next read after the
   * delivered events rejects with the `ConnectionLostError` that `closed()` resolves with
   * (an iterator made after that rejects at once). An abort of `signal` rejects with its reason.
   */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<GroupEvent> {
    return this.#hub.iterator(options.signal);
  }

  /** The same as `events()`: `for await (const e of group)` throws if the connection is lost. */
  [Symbol.asyncIterator](): AsyncIterator<GroupEvent> {
    return this.#hub.iterator();
  }

  /**
   * In `dispatch: 'manual'` mode: process pending events now, waiting up to `timeoutMs`
   * for the first. Returns whether anything was dispatched.
   */
  dispatch(timeoutMs = 0): boolean {
    this.#assertOpen();
    return this.#driver?.dispatch(timeoutMs) ?? false;
  }

  /** Leave (if joined) and disconnect. Idempotent. */
  close(): Promise<void> {
    this.#close(undefined, true);
    return this.#closedPromise.then(() => undefined);
  }

  /** Resolves (never rejects) when closed: with the error that closed it, if any. */
  closed(): Promise<void | Error> {
    return this.#closedPromise;
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new GroupClosedError('the group is closed');
  }

  #connect(): Promise<GroupDriver> {
    if (this.#connecting) return this.#connecting;
    const generation = ++this.#generation;
    const sink = this.#sink(generation);
    const p = this.#transport
      .connect(sink, { dispatch: this.#dispatchMode })
      .then((driver) => {
        if (this.#closed || generation !== this.#generation) {
          driver.close();
          throw new GroupClosedError('the group was closed while connecting');
        }
        this.#driver = driver;
        this.#driverUsed = false;
        this.#self = driver.local;
        this.#atomicMessageSize = driver.maxMessageSize;
        return driver;
      })
      .finally(() => {
        if (this.#connecting === p) this.#connecting = undefined;
      });
    this.#connecting = p;
    return p;
  }

  /** Close the current driver quietly (its sink is ignored from now on). */
  #dropDriver(): void {
    const d = this.#driver;
    this.#driver = undefined;
    this.#generation++;
    this.#outbox.detach();
    if (d) {
      try {
        d.close();
      } catch {
        // closing a dead connection: nothing to do
      }
    }
  }

  #close(error: Error | undefined, graceful: boolean): void {
    if (this.#closed) return;
    const driver = this.#driver;
    if (graceful && driver && this.#joined) this.#outbox.flush();
    this.#closed = true;
    this.#driver = undefined;
    this.#generation++;
    this.#outbox.detach();
    this.#outbox.failAll(
      new GroupClosedError(
        error ? `the group closed: ${error.message}` : 'the group was closed',
        error ? { cause: error } : {},
      ),
    );
    if (driver) {
      if (graceful && this.#joined) {
        try {
          driver.leave();
        } catch {
          // the connection is going away anyway
        }
      }
      try {
        driver.close();
      } catch {
        // already dead
      }
    }
    this.#joined = false;
    this.#inGroup = false;
    this.#decoder.clear();
    this.#joinWaiter?.reject(error ?? new GroupClosedError('the group was closed during join'));
    this.#leaveWaiter?.resolve();
    this.#leaveWaiter = undefined;
    // A lost connection ends the event stream with its error (after what was delivered);
    // close() and leave-then-close end it normally. closed() resolves with the same error.
    this.#hub.end(error);
    this.#resolveClosed(error);
  }

  readonly #deliverMessage = (sender: MemberId, data: Uint8Array): void => {
    this.#hub.emit({ type: 'message', sender, data });
  };

  #sink(generation: number): DriverSink {
    const live = (): boolean => generation === this.#generation && !this.#closed;
    const decoder = this.#decoder;
    return {
      message: (sender: MemberId, data: Uint8Array) => {
        if (generation === this.#generation && !this.#closed && !this.#deaf) {
          decoder.decode(sender, data);
        }
      },
      membership: (
        members: readonly MemberId[],
        joined: readonly MemberChange[],
        left: readonly MemberChange[],
      ) => {
        if (live() && !this.#deaf) this.#onMembership(members, joined, left);
      },
      // After our own leave (or an eviction) the handle is not ours any more: corosync 3.1.7
      // goes on delivering to it (in manual mode we keep it until the next join).
      totem: (ringId: RingId, nodes: readonly number[]) => {
        if (live() && !this.#deaf) this.#hub.emit({ type: 'totem', ringId, nodes });
      },
      quorum: (quorate: boolean, view?: QuorumView) => {
        if (!live() || this.#deaf) return;
        this.#quorate = quorate;
        this.#hub.emit(
          view === undefined ? { type: 'quorum', quorate } : { type: 'quorum', quorate, view },
        );
      },
      writable: () => {
        if (live()) this.#outbox.writable();
      },
      lost: (error) => {
        if (live()) this.#close(error, false);
      },
    };
  }

  #onMembership(
    members: readonly MemberId[],
    joined: readonly MemberChange[],
    left: readonly MemberChange[],
  ): void {
    this.#members = members;
    const self = this.#self;
    const inGroup = self !== undefined && members.some((m) => sameMember(m, self));
    for (const l of left) this.#decoder.dropSender(l);
    if (inGroup && !this.#inGroup) {
      this.#inGroup = true;
      this.#joinWaiter?.resolve();
    } else if (!inGroup && this.#inGroup) {
      // We left, or were evicted: either way no longer a member.
      this.#inGroup = false;
      this.#deaf = true;
      if (this.#joined) {
        this.#joined = false;
        this.#outbox.detach();
        this.#outbox.failAll(
          new NotJoinedError('evicted from the group before the engine took the message'),
        );
      }
      this.#decoder.clear();
      const w = this.#leaveWaiter;
      this.#leaveWaiter = undefined;
      w?.resolve();
    }
    this.#hub.emit({ type: 'membership', members, joined, left });
  }
}

/**
 * Join `name` and return the joined `Group`.
 * @param name - 1..128 bytes of UTF-8
 * @param options - `transport` (default: `corosync()`), dispatch mode, send limits,
 *   `signal`/`timeout` for the join
 * @example
 * ```ts
 * await using group = await openGroup('orders', { transport: cluster.processTransport(1) });
 * ```
 */
export async function openGroup(name: string, options: OpenGroupOptions = {}): Promise<Group> {
  encodeGroupName(name);
  const transport = options.transport ?? defaultTransport();
  const group = new Group(transport, options);
  try {
    await group.join(name, options);
  } catch (error) {
    await group.close();
    throw error;
  }
  return group;
}

/** The corosync transport (its native code loads on the first connect only). */
function defaultTransport(): Transport {
  return corosync();
}
