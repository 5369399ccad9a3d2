/**
 * `RemoteGroup`: a `GroupTransport` in the test process whose member lives in an agent process
 * (inside a node's network namespace). A suite written against `GroupTransport` runs unchanged
 * against real corosync members.
 * @module
 */
import {
  ConnectionLostError,
  NotJoinedError,
  realClock,
  type Clock,
  type GroupEvent,
  type GroupEventOf,
  type GroupEventType,
  type GroupInfo,
  type GroupTransport,
  type MemberId,
  type SendOptions,
  type TransportKind,
  type WaitOptions,
} from '@cpgkit/core';
import type { AgentConnection } from './agent-client.js';
import { EventHub } from './event-hub.js';
import {
  decodeEvent,
  decodeGroupInfo,
  reviveError,
  toBase64,
  type WireGroupInfo,
  type WireState,
} from './protocol.js';

/** How a `RemoteGroup` ends its agent. */
export interface RemoteGroupOptions {
  /** Which node the agent runs on (for labels). */
  readonly node: number;
  /** The agent's pid (the member's pid). */
  readonly pid: number;
  /** Ask the agent to exit after `close()`, and resolve when it has. */
  readonly shutdown: () => Promise<void>;
  /** kill -9 the agent; resolve when it is gone. */
  readonly kill: () => Promise<void>;
}

/**
 * A group member running in an agent process, driven through the JSON-lines protocol.
 * Events arrive in the agent's order; `send` resolves when the agent's `send` resolved;
 * getters reflect the agent's state as of the last line received; `clock` is the real clock.
 * When the agent dies (e.g. `kill()`), the event stream ends with a `ConnectionLostError`.
 *
 * @example
 * ```ts
 * const fx = await RealCluster.open();
 * const g = await fx.member(2);            // a RemoteGroup
 * await g.join('orders');
 * g.on('message', (m) => console.log(m.sender));
 * await g.send(new TextEncoder().encode('hi'));
 * ```
 */
export class RemoteGroup implements GroupTransport {
  readonly clock: Clock = realClock;
  /** Which node the member runs on. */
  readonly node: number;
  /** The agent's pid: the member's pid in corosync's terms. */
  readonly pid: number;
  readonly #agent: AgentConnection;
  readonly #options: RemoteGroupOptions;
  readonly #hub = new EventHub();
  #state: WireState;
  #closedWith: Error | undefined;
  #closeCalled: Promise<void> | undefined;
  readonly #closed: Promise<void | Error>;
  #resolveClosed!: (value: void | Error) => void;

  constructor(agent: AgentConnection, initial: WireState, options: RemoteGroupOptions) {
    this.#agent = agent;
    this.#options = options;
    this.#state = initial;
    this.node = options.node;
    this.pid = options.pid;
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    agent.listen({
      state: (s) => {
        this.#state = s;
      },
      event: (e) => this.#hub.emit(decodeEvent(e)),
      closed: (error) => this.#finish(error ? reviveError(error) : undefined),
      gone: (error) =>
        this.#finish(
          this.#closeCalled
            ? undefined
            : new ConnectionLostError(`the member's process is gone: ${error.message}`, {
                cause: error,
              }),
        ),
    });
    if (agent.gone)
      this.#finish(new ConnectionLostError(agent.gone.message, { cause: agent.gone }));
  }

  /** The agent connection (for `run` and raw requests). */
  get agent(): AgentConnection {
    return this.#agent;
  }

  get kind(): TransportKind {
    return this.#state.kind;
  }

  get name(): string | undefined {
    return this.#state.name;
  }

  get joined(): boolean {
    return this.#state.joined && this.#closedWith === undefined && !this.#hub.ended;
  }

  get self(): MemberId {
    const self = this.#state.self;
    if (self === undefined)
      throw new NotJoinedError('not joined yet: no member id before the first join');
    return self;
  }

  get quorate(): boolean {
    return this.#state.quorate;
  }

  get maxMessageSize(): number {
    return this.#state.maxMessageSize;
  }

  async join(name: string, options: WaitOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    const call = this.#agent.call<void>({
      op: 'join',
      name,
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    });
    await withSignal(call, options.signal);
  }

  async leave(): Promise<void> {
    await this.#agent.call({ op: 'leave' });
  }

  async send(data: Uint8Array | readonly Uint8Array[], options: SendOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    const wire = data instanceof Uint8Array ? toBase64(data) : data.map(toBase64);
    await withSignal(this.#agent.call<void>({ op: 'send', data: wire }), options.signal);
  }

  members(): readonly MemberId[] {
    return this.#state.members;
  }

  async groups(): Promise<GroupInfo[]> {
    return (await this.#agent.call<WireGroupInfo[]>({ op: 'groups' })).map(decodeGroupInfo);
  }

  on<T extends GroupEventType>(type: T, handler: (event: GroupEventOf<T>) => void): () => void {
    return this.#hub.on(type, handler);
  }

  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<GroupEvent> {
    return this.#hub.events(options);
  }

  [Symbol.asyncIterator](): AsyncIterator<GroupEvent> {
    return this.#hub.events();
  }

  /**
   * Run `exportName` of `module` inside the agent (see `AgentRunContext`): scenario code next
   * to the member, on its node.
   */
  run<R = unknown>(
    module: string,
    exportName: string,
    args?: unknown,
    options: { onEmit?: (value: unknown) => void; signal?: AbortSignal } = {},
  ): Promise<R> {
    return this.#agent.run<R>(module, exportName, args, options);
  }

  /** Leave, disconnect and end the agent process. Idempotent. */
  close(): Promise<void> {
    this.#closeCalled ??= (async () => {
      if (!this.#agent.gone) {
        await this.#agent.call({ op: 'close' }).catch(() => undefined);
        await this.#options.shutdown();
      }
      this.#finish(undefined);
    })();
    return this.#closeCalled;
  }

  /** kill -9 the member's process (others see PROCDOWN). The stream ends with `ConnectionLostError`. */
  async kill(): Promise<void> {
    await this.#options.kill();
  }

  closed(): Promise<void | Error> {
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #finish(error: Error | undefined): void {
    if (this.#hub.ended) return;
    this.#closedWith = error;
    this.#hub.end(error);
    this.#resolveClosed(error);
  }
}

function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
